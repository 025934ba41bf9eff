package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/shipyard-kit/shipyard/app/internal/logx"
)

// problem is an RFC 9457 problem details body with a stable code.
type problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Code      string       `json:"code"`
	Instance  string       `json:"instance,omitempty"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []fieldError `json:"errors,omitempty"`
}

// fieldError is one field-level validation problem.
type fieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

const problemTypeBase = "https://shipyard.dev/problems/"

var problemTitles = map[string]string{
	"malformed_json":          "Malformed JSON",
	"invalid_cursor":          "Invalid cursor",
	"invalid_idempotency_key": "Invalid Idempotency-Key",
	"idempotency_key_reused":  "Idempotency-Key reused",
	"unauthorized":            "Authentication required",
	"invalid_token":           "Invalid token",
	"invalid_credentials":     "Invalid credentials",
	"not_found":               "Not found",
	"method_not_allowed":      "Method not allowed",
	"email_taken":             "Email already registered",
	"precondition_failed":     "Precondition failed",
	"body_too_large":          "Request body too large",
	"unsupported_media_type":  "Unsupported media type",
	"validation_failed":       "Validation failed",
	"rate_limited":            "Too many requests",
	"request_timeout":         "Request timeout",
	"overloaded":              "Server busy",
	"internal":                "Internal server error",
	"unavailable":             "Service unavailable",
}

// writeProblem writes a problem response.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, code, detail string, fields ...fieldError) {
	p := problem{
		Type:      problemTypeBase + code,
		Title:     problemTitles[code],
		Status:    status,
		Detail:    detail,
		Code:      code,
		Instance:  r.URL.Path,
		RequestID: logx.RequestID(r.Context()),
		Errors:    fields,
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
