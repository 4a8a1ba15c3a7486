# Vigil as a small static image: build with the Go toolchain, run from scratch as a non-root user.
#   docker build -t vigil --build-arg VERSION=$(git describe --tags --always) .
#   docker run --rm -v /etc/vigil:/etc/vigil:ro -p 9464:9464 vigil run --config /etc/vigil/vigil.yaml
# The configuration must set metrics.addr to 0.0.0.0:9464 (or VIGIL_METRICS_ADDR) for the port
# to be reachable from outside the container.

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Dependencies first, so that source changes do not invalidate the module cache layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=""
ARG BUILD_DATE=""
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/vigil-detect/vigil/agent.Version=${VERSION} -X github.com/vigil-detect/vigil/agent.Commit=${COMMIT} -X github.com/vigil-detect/vigil/agent.BuildDate=${BUILD_DATE}" \
      -o /out/vigil ./cmd/vigil \
 && /out/vigil version \
 && mkdir -p /out/etc/vigil /out/var/lib/vigil \
 && cp -r rules/starter /out/etc/vigil/rules \
 && printf 'vigil:x:65532:65532:vigil:/var/lib/vigil:/sbin/nologin\n' > /out/etc/passwd \
 && printf 'vigil:x:65532:\n' > /out/etc/group

FROM scratch
# CA certificates for TLS to Kafka and webhooks; time zones are compiled into the binary.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/etc/passwd /out/etc/group /etc/
COPY --from=build --chown=65532:65532 /out/var/lib/vigil /var/lib/vigil
COPY --from=build /out/etc/vigil /etc/vigil
COPY --from=build /out/vigil /usr/local/bin/vigil
USER 65532:65532
WORKDIR /var/lib/vigil
ENV VIGIL_METRICS_ADDR=0.0.0.0:9464
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/vigil"]
CMD ["run", "--config", "/etc/vigil/vigil.yaml"]
