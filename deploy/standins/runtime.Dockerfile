# Stand-in for gcr.io/distroless/static-debian12:nonroot (RUNTIME_IMAGE), for
# machines that reach no image registry: no shell, no package manager; CA
# certificates, time zones, /etc/passwd with nonroot (65532) and a 1777
# /tmp, as in distroless. The context is staged by build.sh.
FROM scratch
COPY rootfs/ /
USER 65532:65532
WORKDIR /home/nonroot
# Inherited by every image built on it, which is then built on a stand-in too.
LABEL io.hidden-bottleneck.standin-for="gcr.io/distroless/static-debian12:nonroot"
