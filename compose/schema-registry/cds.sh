#!/bin/bash
# Run once while the image is built: records the classes the registry loads while it starts and answers its
# first request into a class-data-sharing archive (AppCDS), which entrypoint.sh hands to it: a stack's registry
# then answers in about 2.5 s instead of 4 (here, idle). The registry here listens on loopback ports drawn at
# random (the build has the host's network) and is stopped once it has answered. Best effort: without the
# archive it starts as before.
set -u
archive=/opt/registry/registry.jsa
port=$((30000 + $(od -An -N2 -tu2 /dev/urandom) % 20000))
answers() {
  { exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'GET /apis/ccompat/v7/subjects HTTP/1.0\r\n\r\n' >&3 \
    && grep -q '200' <&3; } 2>/dev/null
}
QUARKUS_HTTP_HOST=127.0.0.1 QUARKUS_HTTP_PORT=$port QUARKUS_MANAGEMENT_HOST=127.0.0.1 \
  QUARKUS_MANAGEMENT_PORT=$((port + 1)) java -Xms256m -Xmx512m -XX:ArchiveClassesAtExit=$archive \
  -jar /opt/registry/apicurio-registry-app-3.0.9-runner.jar >/dev/null 2>&1 &
pid=$!
i=0
until answers || [ $i -ge 600 ]; do sleep 0.2; i=$((i + 1)); done
answered=false
answers && answered=true
kill -TERM "$pid" 2>/dev/null
wait "$pid"
$answered || { echo "cds.sh: the registry did not answer; no archive" >&2; rm -f "$archive"; }
ls -l "$archive" 2>/dev/null || true
