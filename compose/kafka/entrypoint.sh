#!/bin/sh
# Formats the log directory for this node (a fresh container each run) and starts the broker.
set -eu
: "${KAFKA_SERVER_PROPERTIES:?KAFKA_SERVER_PROPERTIES must hold the server.properties text}"
: "${KAFKA_CLUSTER_ID:?KAFKA_CLUSTER_ID must be set}"
props=/var/lib/kafka/server.properties
printf '%s\n' "$KAFKA_SERVER_PROPERTIES" > "$props"
cp="/opt/kafka/libs/*"
log="-Dlog4j2.configurationFile=/opt/kafka/log4j2.yaml"
java $log -cp "$cp" kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID" -c "$props" --ignore-formatted
exec java ${KAFKA_JVM_OPTS:-} $log -cp "$cp" kafka.Kafka "$props"
