package stackconfig

import "testing"

func TestEveryStackLoads(t *testing.T) {
	names, err := Stacks("../../config")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		c, err := Load("../../config", n)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		t.Logf("%s: %+v", n, c.Env(LocalEndpoints))
	}
}
