// Command bare is the yardstick of BenchmarkSideBySide: a bare net/http
// server answering what /livez answers, with nothing else (no router, no
// middleware, no logging).
package main

import (
	"net/http"
	"os"
)

func main() {
	body := []byte("{\"status\":\"ok\"}\n")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), h); err != nil {
		os.Exit(1)
	}
}
