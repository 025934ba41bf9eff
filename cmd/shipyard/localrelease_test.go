package main

import (
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
