// Thin C shims over librdkafka for what is awkward from Swift: produce's argument list
// (rd_kafka_vu_t unions) and constants defined as macros. Everything else is called from
// Swift as it is, through the Kafka module's safe wrappers.
#ifndef TRIBUTARY_CKAFKA_SHIM_H
#define TRIBUTARY_CKAFKA_SHIM_H
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdint.h>
#include <string.h>
#include <malloc.h>

/// Keep up to `trim` bytes of freed heap instead of giving it back to the kernel, and grow
/// the heap by `pad` bytes more than asked (glibc mallopt; malloc.h is not in Swift's Glibc
/// module). For processes that produce: see `KafkaProducer.keepFreedHeap`.
static inline void tb_keep_freed_heap(int trim, int pad) {
    mallopt(M_TRIM_THRESHOLD, trim);
    mallopt(M_TOP_PAD, pad);
}

/// Produce one record (librdkafka copies key and value) to a topic handle the caller keeps
/// (`rkt`), or by name when it has none: by name, librdkafka looks the topic up (a lock, a
/// list scan, a reference taken and dropped) for every record. Optional headers (ownership
/// passes to librdkafka on success) and a per-message opaque that comes back in the
/// delivery report. Returns the error code.
static inline rd_kafka_resp_err_t tb_produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const char *topic,
                                             int32_t partition,
                                             const void *key, size_t keylen,
                                             const void *value, size_t len,
                                             rd_kafka_headers_t *headers,
                                             int64_t timestamp_ms,
                                             void *opaque) {
    rd_kafka_vu_t vu[8];
    size_t n = 0;
    if (rkt != NULL) {
        vu[n].vtype = RD_KAFKA_VTYPE_RKT; vu[n++].u.rkt = rkt;
    } else {
        vu[n].vtype = RD_KAFKA_VTYPE_TOPIC; vu[n++].u.cstr = topic;
    }
    vu[n].vtype = RD_KAFKA_VTYPE_PARTITION; vu[n++].u.i32 = partition;
    vu[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS; vu[n++].u.i = RD_KAFKA_MSG_F_COPY;
    vu[n].vtype = RD_KAFKA_VTYPE_KEY; vu[n].u.mem.ptr = (void *)key; vu[n++].u.mem.size = keylen;
    vu[n].vtype = RD_KAFKA_VTYPE_VALUE; vu[n].u.mem.ptr = (void *)value; vu[n++].u.mem.size = len;
    if (headers != NULL) {
        vu[n].vtype = RD_KAFKA_VTYPE_HEADERS; vu[n++].u.headers = headers;
    }
    vu[n].vtype = RD_KAFKA_VTYPE_TIMESTAMP; vu[n++].u.i64 = timestamp_ms;
    vu[n].vtype = RD_KAFKA_VTYPE_OPAQUE; vu[n++].u.ptr = opaque;
    rd_kafka_error_t *error = rd_kafka_produceva(rk, vu, n);
    if (error == NULL) return RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_resp_err_t code = rd_kafka_error_code(error);
    rd_kafka_error_destroy(error);
    return code;
}

static inline int64_t tb_offset_stored(void) { return RD_KAFKA_OFFSET_STORED; }
static inline int64_t tb_offset_beginning(void) { return RD_KAFKA_OFFSET_BEGINNING; }
static inline int64_t tb_offset_end(void) { return RD_KAFKA_OFFSET_END; }
static inline int32_t tb_partition_ua(void) { return RD_KAFKA_PARTITION_UA; }

#endif
