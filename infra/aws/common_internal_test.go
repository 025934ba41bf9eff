package aws

import "testing"

func TestCidrSubnetCarvesTwentiesOutOfTheVPCBlock(t *testing.T) {
	cases := []struct {
		base    string
		newBits int
		num     int
		want    string
		wantErr bool
	}{
		{"10.0.0.0/16", 4, 0, "10.0.0.0/20", false},
		{"10.0.0.0/16", 4, 2, "10.0.32.0/20", false},
		{"10.20.0.0/16", 4, 8, "10.20.128.0/20", false},
		{"10.20.0.0/16", 4, 10, "10.20.160.0/20", false},
		{"10.0.0.0/16", 4, 16, "", true},
		{"10.0.0.0/26", 4, 0, "", true},
		{"fd00::/48", 4, 0, "", true},
		{"not-a-cidr", 4, 0, "", true},
	}
	for _, c := range cases {
		got, err := cidrSubnet(c.base, c.newBits, c.num)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("cidrSubnet(%s, %d, %d) = %q, %v; want %q (error %v)", c.base, c.newBits, c.num, got, err, c.want, c.wantErr)
		}
	}
}

func TestParameterGroupFamilyFollowsTheMajorVersion(t *testing.T) {
	for in, want := range map[string]string{"15.10": "postgres15", "16": "postgres16", "x.1": "", "": ""} {
		got, err := parameterGroupFamily(in)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("parameterGroupFamily(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
