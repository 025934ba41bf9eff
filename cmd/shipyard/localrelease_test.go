package main

import (
	"context"
	"strings"
	"testing"
)

func TestAGateQueryWithoutASampleOrWithNaNIsNoDataNotZero(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		value      float64
		ok         bool
		err        string
	}{
		{"one sample", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"12.5"]}]}}`, 12.5, true, ""},
		{"an empty vector (no requests at all)", `{"status":"success","data":{"resultType":"vector","result":[]}}`, 0, false, ""},
		{"NaN (a ratio over zero requests)", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"NaN"]}]}}`, 0, false, ""},
		{"+Inf", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"+Inf"]}]}}`, 0, false, ""},
		{"two series", `{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]},{"value":[1,"2"]}]}}`, 0, false, "2 series"},
		{"a query error", `{"status":"error","error":"parse error"}`, 0, false, "parse error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v, ok, err := parseInstantQuery(200, strings.NewReader(tt.body))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || ok != tt.ok || v != tt.value {
				t.Errorf("got %v %v %v, want %v %v", v, ok, err, tt.value, tt.ok)
			}
		})
	}
}

func TestDiagnoseShowsTheUnhealthyContainersHealthChecksAndTheLogTailOfAWebOne(t *testing.T) {
	x := newFakeExec(map[string]answer{
		"docker ps -a --filter label=dev.shipyard.stack=rel --filter label=dev.shipyard.process --format {{.Names}}": {out: "shipyard-rel-worker-bbb\nshipyard-rel-web-1-aaa\nshipyard-rel-canary-web-1-bbb\nshipyard-rel-migrate-bbb\n"},
		"docker inspect --format {{json .State}} shipyard-rel-web-1-aaa":                                             {out: `{"Status":"running","ExitCode":0,"Health":{"Status":"healthy","Log":[{"ExitCode":0,"Output":""}]}}`},
		"docker inspect --format {{json .State}} shipyard-rel-migrate-bbb":                                           {out: `{"Status":"exited","ExitCode":0,"Health":{"Status":"unhealthy","Log":[]}}`},
		"docker inspect --format {{json .State}} shipyard-rel-worker-bbb":                                            {out: `{"Status":"restarting","ExitCode":2,"Health":{"Status":"starting","Log":[]}}`},
		"docker inspect --format {{json .State}} shipyard-rel-canary-web-1-bbb":                                      {out: `{"Status":"running","ExitCode":0,"Health":{"Status":"unhealthy","Log":[{"ExitCode":1,"Output":"healthcheck: /livez answered 503\n"},{"ExitCode":1,"Output":"healthcheck: /livez answered 503\n"}]}}`},
		"docker logs --tail 20 shipyard-rel-canary-web-1-bbb":                                                        {out: "{\"level\":\"INFO\",\"msg\":\"listening\"}\npanic: boom\n"},
	})
	why := dockerLocal{x: x.exec, docker: "docker"}.Diagnose(context.Background(), "rel")
	want := "container shipyard-rel-worker-bbb: restarting (exit code 2), health starting\n" +
		"container shipyard-rel-canary-web-1-bbb: running (exit code 0), health unhealthy\n" +
		"  health check: exit 1: healthcheck: /livez answered 503\n" +
		"  health check: exit 1: healthcheck: /livez answered 503\n" +
		"last 20 log lines of shipyard-rel-canary-web-1-bbb:\n" +
		"{\"level\":\"INFO\",\"msg\":\"listening\"}\npanic: boom"
	if why != want {
		t.Errorf("diagnosis:\n%s\nwant:\n%s", why, want)
	}
	if c := x.calls[len(x.calls)-1]; !c.Stream || c.Out == nil {
		t.Errorf("docker logs %+v: want its standard error too (a panic's)", c)
	}
}
