#!/bin/sh
# Host networking shares ports: HTTP and management ports are set by bench (QUARKUS_* variables).
set -eu
# The class-data-sharing archive cds.sh recorded, when it did; REGISTRY_JVM_OPTS comes after, so it can override.
cds=""
[ -f /opt/registry/registry.jsa ] && cds="-XX:SharedArchiveFile=/opt/registry/registry.jsa"
exec java $cds ${REGISTRY_JVM_OPTS:-} -jar /opt/registry/apicurio-registry-app-3.0.9-runner.jar
