package signals

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

func TestTheSchemaAllowsExactlyTheGateRowsAsGates(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(configDir(t), "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties struct {
			Deploy struct {
				Properties struct {
					Gates struct {
						Default []string `json:"default"`
						Items   struct {
							Enum []string `json:"enum"`
						} `json:"items"`
					} `json:"gates"`
				} `json:"properties"`
			} `json:"deploy"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	if got := schema.Properties.Deploy.Properties.Gates.Items.Enum; !slices.Equal(got, GateNames()) {
		t.Errorf("schema deploy.gates allows %v, the table's gate rows are %v", got, GateNames())
	}
}

func TestEveryGateRowIsAlsoADeploymentAlarmOfTheWebService(t *testing.T) {
	// So it cannot be disabled, and CodeDeploy rolls back on its alarm.
	for _, a := range Table {
		if a.Gate != "" && !slices.Contains(a.Deployment, stackconfig.Web) {
			t.Errorf("%s is a gate but does not roll back web deployments", a.Name)
		}
		if a.Gate != "" && a.Scope != TargetGroup {
			t.Errorf("%s is a gate but watches %s, not the (new) target group", a.Name, a.Scope)
		}
	}
}

func TestAGateReadsOnlyTheNamedGenerationsTrafficOverItsWholeWindow(t *testing.T) {
	cfg := load(t, "local")
	alarms, err := Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gates, err := Gates(cfg, alarms)
	if err != nil {
		t.Fatal(err)
	}
	if len(gates) != len(cfg.Deploy.Gates) {
		t.Fatalf("gates %v for deploy.gates %v", gates, cfg.Deploy.Gates)
	}
	for _, g := range gates {
		value, requests := g.Queries("web-canary")
		for _, q := range []string{value, requests} {
			if !strings.Contains(q, `generation="web-canary"`) || strings.Contains(q, "{generation}") {
				t.Errorf("%s: query %s does not select generation web-canary", g.Name, q)
			}
			if want := "[" + promDuration(g.WindowSeconds) + "]"; !strings.Contains(q, want) {
				t.Errorf("%s: query %s does not read the window %s", g.Name, q, want)
			}
		}
	}
}

func TestABakeShorterThanAGatesWindowIsRefusedWithTheReason(t *testing.T) {
	cfg := load(t, "local")
	cfg.Deploy = stackconfig.Deploy{Strategy: stackconfig.StrategyCanary, CanaryPercent: 25, BakeSeconds: 45,
		Gates: []string{"targetErrorRate"}, MinRequests: 20}
	_, err := Resolve(cfg)
	var ve *stackconfig.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Path != "deploy.bakeSeconds" ||
		!strings.Contains(ve.Problems[0].Message, "45 is shorter than gate targetErrorRate's evaluation window of 120 s") {
		t.Fatalf("error %v, want deploy.bakeSeconds refused against targetErrorRate's 120 s window", err)
	}
	thirty := 5.0
	cfg.Alarms.Overrides = map[string]stackconfig.AlarmOverride{"targetErrorRate": {Threshold: &thirty, PeriodSeconds: 30, EvaluationPeriods: 1}}
	if _, err := Resolve(cfg); err != nil {
		t.Errorf("with a 30 s window: %v", err)
	}
	cfg.Deploy.Strategy = stackconfig.StrategyRolling
	cfg.Alarms.Overrides = nil
	if _, err := Resolve(cfg); err != nil {
		t.Errorf("a rolling strategy has no bake to check: %v", err)
	}
}

func TestAGateBreachesOnlyPastItsThreshold(t *testing.T) {
	g := Gate{Name: "targetErrorRate", Comparison: Above, Threshold: 5, Unit: "%"}
	if g.Breached(5) || !g.Breached(5.1) {
		t.Errorf("above 5: Breached(5) %v, Breached(5.1) %v", g.Breached(5), g.Breached(5.1))
	}
	if g.String() != "targetErrorRate > 5%" {
		t.Errorf("String() = %q", g.String())
	}
}
