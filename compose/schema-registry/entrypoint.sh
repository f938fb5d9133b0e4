#!/bin/sh
# Host networking shares ports: HTTP and management ports are set by bench (QUARKUS_* variables).
set -eu
exec java ${REGISTRY_JVM_OPTS:-} -jar /opt/registry/apicurio-registry-app-3.0.9-runner.jar
