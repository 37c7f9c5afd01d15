CREATE DATABASE IF NOT EXISTS csroi ON CLUSTER main;

CREATE TABLE IF NOT EXISTS csroi.usage_event_local ON CLUSTER main (
    id String,
    customer_id String,
    kind LowCardinality(String),
    occurred_at DateTime64(6, 'UTC'),
    value Int64,
    properties String CODEC(ZSTD(1)),
    content_hash String,
    received_at DateTime64(6, 'UTC')
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (kind, customer_id, occurred_at, id);

CREATE TABLE IF NOT EXISTS csroi.usage_event_id_local ON CLUSTER main (
    id String,
    content_hash String,
    customer_id String,
    occurred_at DateTime64(6, 'UTC')
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(occurred_at)
ORDER BY id;

CREATE TABLE IF NOT EXISTS csroi.usage_daily_local ON CLUSTER main (
    customer_id String,
    kind LowCardinality(String),
    day Date32,
    events SimpleAggregateFunction(sum, UInt64),
    sum_micros SimpleAggregateFunction(sum, Int128),
    min_micros SimpleAggregateFunction(min, Int64),
    max_micros SimpleAggregateFunction(max, Int64),
    first_at SimpleAggregateFunction(min, DateTime64(6, 'UTC')),
    last SimpleAggregateFunction(max, Tuple(DateTime64(6, 'UTC'), String, Int64))
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYear(day)
ORDER BY (kind, customer_id, day);

CREATE TABLE IF NOT EXISTS csroi.usage_daily_value_local ON CLUSTER main (
    customer_id String,
    kind LowCardinality(String),
    day Date32,
    property String,
    value String
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYear(day)
ORDER BY (kind, property, customer_id, day, value);

CREATE TABLE IF NOT EXISTS csroi.usage_daily_import_local ON CLUSTER main (
    customer_id String,
    kind LowCardinality(String),
    day Date32,
    events UInt64,
    sum_micros Int128,
    last_micros Nullable(Int64),
    distinct_values Array(String),
    version UInt64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
ORDER BY (kind, customer_id, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS csroi.usage_event_id_local_mv ON CLUSTER main TO csroi.usage_event_id_local AS
SELECT id, content_hash, customer_id, occurred_at FROM csroi.usage_event_local;

CREATE MATERIALIZED VIEW IF NOT EXISTS csroi.usage_daily_local_mv ON CLUSTER main TO csroi.usage_daily_local AS
SELECT customer_id, kind, toDate32(occurred_at) AS day, count() AS events,
    sum(toInt128(value)) AS sum_micros, min(value) AS min_micros, max(value) AS max_micros,
    min(occurred_at) AS first_at, max((occurred_at, id, value)) AS last
FROM csroi.usage_event_local
GROUP BY customer_id, kind, day;

CREATE MATERIALIZED VIEW IF NOT EXISTS csroi.usage_daily_value_local_mv ON CLUSTER main TO csroi.usage_daily_value_local AS
SELECT customer_id, kind, day, property, assumeNotNull(value) AS value FROM (
    SELECT customer_id, kind, toDate32(occurred_at) AS day,
        arrayJoin(JSONExtractKeys(properties)) AS property,
        if(JSONType(properties, property) = 'String', JSONExtractString(properties, property), if(JSONType(properties, property) = 'Null', NULL, JSONExtractRaw(properties, property))) AS value
    FROM csroi.usage_event_local
) WHERE value IS NOT NULL;

CREATE TABLE IF NOT EXISTS csroi.usage_event ON CLUSTER main AS csroi.usage_event_local
ENGINE = Distributed(main, csroi, usage_event_local, cityHash64(customer_id));

CREATE TABLE IF NOT EXISTS csroi.usage_event_id ON CLUSTER main AS csroi.usage_event_id_local
ENGINE = Distributed(main, csroi, usage_event_id_local, cityHash64(customer_id));

CREATE TABLE IF NOT EXISTS csroi.usage_daily ON CLUSTER main AS csroi.usage_daily_local
ENGINE = Distributed(main, csroi, usage_daily_local, cityHash64(customer_id));

CREATE TABLE IF NOT EXISTS csroi.usage_daily_value ON CLUSTER main AS csroi.usage_daily_value_local
ENGINE = Distributed(main, csroi, usage_daily_value_local, cityHash64(customer_id));

CREATE TABLE IF NOT EXISTS csroi.usage_daily_import ON CLUSTER main AS csroi.usage_daily_import_local
ENGINE = Distributed(main, csroi, usage_daily_import_local, cityHash64(customer_id));

