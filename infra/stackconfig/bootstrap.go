package stackconfig

// Bootstrap is the "bootstrap" section of an aws stack's config, written
// by `make bootstrap` (cmd/shipyard): the stack's state backend and
// secrets provider, and the roles CI assumes for it. Its fields are
// internal/preflight.Bootstrap's, which reads them before the rest of the
// config is loaded.
type Bootstrap struct {
	BackendURL      string `json:"backendUrl,omitempty"`
	SecretsProvider string `json:"secretsProvider,omitempty"`
	DeployRoleArn   string `json:"deployRoleArn,omitempty"`
	PreviewRoleArn  string `json:"previewRoleArn,omitempty"`
}
