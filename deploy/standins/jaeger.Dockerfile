# Stand-in for jaegertracing/jaeger:2.13.0 (JAEGER_IMAGE), for machines that
# reach no image registry: bin/jaeger (the same release, built from the Go
# module v1.76.0) laid out like the upstream image: the binary at
# /cmd/jaeger/jaeger-linux as the entrypoint, uid 10001, BusyBox (the
# upstream image is Alpine) so the compose healthcheck's wget works, and
# JAEGER_LISTEN_HOST=0.0.0.0. A cgo-linked binary brings its C library
# (libs/, staged by build.sh from ldd; empty for a static binary). What it
# lacks is the UI: the Go module build serves a placeholder page instead.
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY etc/ /etc/
COPY libs/ /
COPY jaeger /cmd/jaeger/jaeger-linux
RUN mkdir -p /tmp && chmod 1777 /tmp
ENV JAEGER_LISTEN_HOST=0.0.0.0
# OTLP gRPC and HTTP, query UI/API HTTP and gRPC, health check HTTP.
EXPOSE 4317 4318 16686 16685 13133
VOLUME ["/tmp"]
ENTRYPOINT ["/cmd/jaeger/jaeger-linux"]
USER 10001
# Inherited by every image built on it, which is then built on a stand-in too.
LABEL io.hidden-bottleneck.standin-for="jaegertracing/jaeger:2.13.0"
