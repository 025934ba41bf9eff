// Command badapp is the progressive-delivery test's bad release: it has the
// app image's interface (the /app binary with the serve, worker, clock,
// migrate and healthcheck subcommands, on $PORT) and passes /livez, /readyz
// and the container health check, but answers 500 on every other path.
// tests/e2e builds it into an image FROM scratch.
//
// With BADAPP_LIVEZ=fail (baked into a second image) it is the release that
// never becomes healthy: /livez answers 503, so the container health check
// (which probes /livez, as the app's does) never passes.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	cmd := "serve"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	switch cmd {
	case "migrate":
		fmt.Println(`{"level":"INFO","msg":"badapp: no migration"}`)
	case "healthcheck":
		c := &http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://127.0.0.1:" + port + "/livez")
		if err != nil {
			fmt.Fprintln(os.Stderr, "healthcheck:", err)
			os.Exit(1)
		}
		if resp.StatusCode != http.StatusOK {
			fmt.Fprintf(os.Stderr, "healthcheck: /livez answered %d\n", resp.StatusCode)
			os.Exit(1)
		}
	case "serve", "worker", "clock":
		serve(port)
	default:
		fmt.Fprintln(os.Stderr, "badapp: unknown command", cmd)
		os.Exit(2)
	}
}

func serve(port string) {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ready"}`)
	}
	livez := os.Getenv("BADAPP_LIVEZ")
	fmt.Printf("{\"level\":\"INFO\",\"msg\":\"badapp: listening\",\"port\":%q,\"livez\":%q}\n", port, livez)
	mux.HandleFunc("/livez", func(w http.ResponseWriter, r *http.Request) {
		if livez != "fail" {
			ok(w, r)
			return
		}
		fmt.Println(`{"level":"ERROR","msg":"badapp: /livez fails on purpose (BADAPP_LIVEZ=fail)"}`)
		http.Error(w, `{"status":"failing"}`, http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/readyz", ok)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":"badapp fails every request"}`, http.StatusInternalServerError)
	})
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
