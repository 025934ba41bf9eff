// Package e2e is the Terratest suite of a deployed Shipyard stack. It reads
// the stack's outputs (URL and names) and exercises the stack through its
// public URL, so the same tests run against the local Docker stack (brought
// up by tests/harness) and, with credentials, against dev/staging/prod.
package e2e

import (
	"encoding/json"
	"fmt"
)

// Outputs are the stack outputs the suite reads (see docs/local.md).
type Outputs struct {
	Stack       string `json:"stack"`
	Target      string `json:"target"`
	URL         string `json:"url"`
	Image       string `json:"image"`
	ImageDigest string `json:"imageDigest"`
	// docker: plain HTTP (a redirect to URL) and the CA of URL's
	// certificate.
	HTTPURL   string `json:"httpUrl"`
	TLSCACert string `json:"tlsCaCert"`
	// docker
	PrometheusURL string            `json:"prometheusUrl"`
	JaegerURL     string            `json:"jaegerUrl"`
	NetworkName   string            `json:"networkName"`
	WebContainers []string          `json:"webContainers"`
	Containers    map[string]string `json:"containers"`
	// aws
	ClusterName   string            `json:"clusterName"`
	ServiceNames  map[string]string `json:"serviceNames"`
	LogGroupNames map[string]string `json:"logGroupNames"`
	Region        string            `json:"region"`
}

// ParseOutputs reads outputs as `pulumi stack output --json` prints them
// (or as the harness returns them).
func ParseOutputs(data []byte) (Outputs, error) {
	var o Outputs
	if err := json.Unmarshal(data, &o); err != nil {
		return o, fmt.Errorf("stack outputs: %w", err)
	}
	if o.URL == "" || o.Target == "" {
		return o, fmt.Errorf("stack outputs: url and target are required, got %s", data)
	}
	return o, nil
}
