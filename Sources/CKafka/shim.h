// Thin C shims over librdkafka for what Swift cannot call directly: the variadic
// rd_kafka_producev() and its RD_KAFKA_V_* macros. Everything else is called from
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

/// Produce one record by topic name (librdkafka copies key and value), with optional
/// headers (ownership passes to librdkafka on success) and a per-message opaque that
/// comes back in the delivery report.
static inline rd_kafka_resp_err_t tb_produce(rd_kafka_t *rk, const char *topic, int32_t partition,
                                             const void *key, size_t keylen,
                                             const void *value, size_t len,
                                             rd_kafka_headers_t *headers,
                                             int64_t timestamp_ms,
                                             void *opaque) {
    if (headers != NULL) {
        return rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_KEY(key, keylen), RD_KAFKA_V_VALUE((void *)value, len),
                                 RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_TIMESTAMP(timestamp_ms),
                                 RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    }
    return rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_KEY(key, keylen), RD_KAFKA_V_VALUE((void *)value, len),
                             RD_KAFKA_V_TIMESTAMP(timestamp_ms),
                             RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
}

/* As tb_produce, to a topic handle the caller keeps: producing by name looks the topic up
 * (a lock, a list scan and a reference taken and dropped) for every record. */
static inline rd_kafka_resp_err_t tb_produce_rkt(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int32_t partition,
                                                 const void *key, size_t keylen,
                                                 const void *value, size_t len,
                                                 rd_kafka_headers_t *headers,
                                                 int64_t timestamp_ms,
                                                 void *opaque) {
    if (headers != NULL) {
        return rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_KEY(key, keylen), RD_KAFKA_V_VALUE((void *)value, len),
                                 RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_TIMESTAMP(timestamp_ms),
                                 RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    }
    return rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_KEY(key, keylen), RD_KAFKA_V_VALUE((void *)value, len),
                             RD_KAFKA_V_TIMESTAMP(timestamp_ms),
                             RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
}

static inline int64_t tb_offset_stored(void) { return RD_KAFKA_OFFSET_STORED; }
static inline int64_t tb_offset_beginning(void) { return RD_KAFKA_OFFSET_BEGINNING; }
static inline int64_t tb_offset_end(void) { return RD_KAFKA_OFFSET_END; }
static inline int32_t tb_partition_ua(void) { return RD_KAFKA_PARTITION_UA; }

#endif
