# Stand-in for golang:1.26 (GO_IMAGE), for machines that reach no image
# registry: the host's Go toolchain on BusyBox, laid out like the official
# image (GOROOT /usr/local/go, GOPATH /go, GOTOOLCHAIN=local, working
# directory /go). The context is staged by build.sh.
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY etc/ /etc/
COPY go/ /usr/local/go/
ENV GOPATH=/go \
    GOTOOLCHAIN=local \
    PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /tmp /root "$GOPATH/src" "$GOPATH/bin" && chmod 1777 /tmp "$GOPATH" "$GOPATH/src" "$GOPATH/bin"
WORKDIR /go
CMD ["/bin/sh"]
# Inherited by every image built on it, which is then built on a stand-in too.
LABEL io.hidden-bottleneck.standin-for="golang:1.26"
