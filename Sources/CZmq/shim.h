// libzmq as it is; this header only exists so the module map has one place to point at.
#ifndef TRIBUTARY_CZMQ_SHIM_H
#define TRIBUTARY_CZMQ_SHIM_H
#include <zmq.h>
static inline int tb_zmq_errno(void) { return zmq_errno(); }
#endif
