# A static issuer binary on a small base, run as a non-root user. The last stage (the default
# target) is the issuer; `--target resource-server` builds the example API of examples/.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/issuer ./cmd/issuer \
 && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/resource-server ./examples/resource-server

FROM alpine:3.20 AS resource-server
RUN adduser -D -H -u 10001 app
COPY --from=build /out/resource-server /usr/local/bin/resource-server
USER app
EXPOSE 8090
ENTRYPOINT ["resource-server"]

FROM alpine:3.20
# wget (busybox) serves the health check; nothing else is added.
RUN adduser -D -H -u 10001 issuer && mkdir /data && chown issuer /data
COPY --from=build /out/issuer /usr/local/bin/issuer
USER issuer
WORKDIR /data
EXPOSE 8080 9090
ENTRYPOINT ["issuer"]
CMD ["serve"]
