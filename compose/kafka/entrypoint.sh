#!/bin/sh
# Formats the log directory for this node (a fresh container each run) and starts the broker.
set -eu
: "${KAFKA_SERVER_PROPERTIES:?KAFKA_SERVER_PROPERTIES must hold the server.properties text}"
: "${KAFKA_CLUSTER_ID:?KAFKA_CLUSTER_ID must be set}"
props=/var/lib/kafka/server.properties
printf '%s\n' "$KAFKA_SERVER_PROPERTIES" > "$props"
cp="/opt/kafka/libs/*"
log="-Dlog4j2.configurationFile=/opt/kafka/log4j2.yaml"
# The class-data-sharing archives cds.sh recorded, when it did; KAFKA_JVM_OPTS comes after, so it can override.
cds() { [ -f "/opt/kafka/$1.jsa" ] && echo "-XX:SharedArchiveFile=/opt/kafka/$1.jsa" || true; }
java $(cds format) $log -cp "$cp" kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID" -c "$props" --ignore-formatted
exec java $(cds broker) ${KAFKA_JVM_OPTS:-} $log -cp "$cp" kafka.Kafka "$props"
