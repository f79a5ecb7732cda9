# Build: docker build -t trucewatch .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/trucewatch ./cmd/trucewatch

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/trucewatch /usr/local/bin/trucewatch
ENTRYPOINT ["/usr/local/bin/trucewatch"]
