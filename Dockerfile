# A static issuer binary on a small base, run as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/issuer ./cmd/issuer

FROM alpine:3.20
# wget (busybox) serves the health check; nothing else is added.
RUN adduser -D -H -u 10001 issuer && mkdir /data && chown issuer /data
COPY --from=build /out/issuer /usr/local/bin/issuer
USER issuer
WORKDIR /data
EXPOSE 8080 9090
ENTRYPOINT ["issuer"]
CMD ["serve"]
