package aws

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PreviewBaseOutputs are the base stack's outputs a PR environment reads
// (NewStack exports every one of them).
var PreviewBaseOutputs = []string{
	OutputRegion, OutputVpcID, OutputPrivateSubnetIDs, OutputAppSecurityGroupID,
	OutputClusterName, OutputClusterArn, OutputHTTPSListenerARN, OutputAlbDNSName, OutputAlbZoneID,
	OutputDomain, OutputHostedZoneID, OutputImageRepositoryURL, OutputImageRepositoryArn,
	OutputDatabaseAddress, OutputDatabasePort, OutputDatabaseMasterSecretArn,
	OutputRedisAddress, OutputRedisPort, OutputRedisAuthSecretArn, OutputKMSKeyArn, OutputAppSecretArns,
}

// StackReferenceName is the fully qualified name stack of project is
// referenced by. With a DIY backend (the local file backend, the state
// bucket) the organization is always the literal "organization".
func StackReferenceName(project, stack string) string { return "organization/" + project + "/" + stack }

// previewBase is what a PR environment shares with its base stack, read
// from the base's outputs.
type previewBase struct {
	Stack                                   string
	Region, VpcID                           string
	PrivateSubnetIDs                        []string
	AppSecurityGroupID                      string
	ClusterName, ClusterArn                 string
	HTTPSListenerArn, AlbDNSName, AlbZoneID string
	Domain, HostedZoneID                    string
	RepositoryURL, RepositoryArn            string
	DatabaseAddress                         string
	DatabasePort                            int
	DatabaseMasterSecretArn                 string
	RedisAddress                            string
	RedisPort                               int
	RedisAuthSecretArn, KMSKeyArn           string
	AppSecretArns                           map[string]string
}

// readPreviewBase reads base's outputs through a StackReference. A missing
// or empty one is an error naming it and the command that creates it.
func readPreviewBase(ctx *pulumi.Context, name, base string, opts ...pulumi.ResourceOption) (*previewBase, error) {
	ref, err := pulumi.NewStackReference(ctx, name, &pulumi.StackReferenceArgs{Name: pulumi.String(StackReferenceName(ctx.Project(), base))}, opts...)
	if err != nil {
		return nil, fmt.Errorf("stack reference %s: %w", base, err)
	}
	values := map[string]any{}
	var missing []string
	for _, k := range PreviewBaseOutputs {
		d, err := ref.GetOutputDetails(k)
		if err != nil {
			return nil, fmt.Errorf("reading output %s of stack %s: %w", k, base, err)
		}
		v := d.Value
		if v == nil {
			v = d.SecretValue
		}
		if v == nil {
			missing = append(missing, k)
			continue
		}
		values[k] = v
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("stack %s has no outputs %s: deploy it with this checkout first (`make up STACK=%s`)", base, strings.Join(missing, ", "), base)
	}
	b := &previewBase{Stack: base, AppSecretArns: map[string]string{}}
	var errs []string
	str := func(k string, dst *string, required bool) {
		s, ok := values[k].(string)
		if !ok || (required && s == "") {
			errs = append(errs, fmt.Sprintf("%s is %v, want a non-empty string", k, values[k]))
		}
		*dst = s
	}
	num := func(k string, dst *int) {
		f, ok := values[k].(float64)
		if !ok || f <= 0 {
			errs = append(errs, fmt.Sprintf("%s is %v, want a port", k, values[k]))
		}
		*dst = int(f)
	}
	str(OutputRegion, &b.Region, true)
	str(OutputVpcID, &b.VpcID, true)
	str(OutputAppSecurityGroupID, &b.AppSecurityGroupID, true)
	str(OutputClusterName, &b.ClusterName, true)
	str(OutputClusterArn, &b.ClusterArn, true)
	str(OutputHTTPSListenerARN, &b.HTTPSListenerArn, true)
	str(OutputAlbDNSName, &b.AlbDNSName, true)
	str(OutputAlbZoneID, &b.AlbZoneID, true)
	str(OutputDomain, &b.Domain, false)
	str(OutputHostedZoneID, &b.HostedZoneID, false)
	str(OutputImageRepositoryURL, &b.RepositoryURL, true)
	str(OutputImageRepositoryArn, &b.RepositoryArn, true)
	str(OutputDatabaseAddress, &b.DatabaseAddress, true)
	str(OutputDatabaseMasterSecretArn, &b.DatabaseMasterSecretArn, true)
	str(OutputRedisAddress, &b.RedisAddress, true)
	str(OutputRedisAuthSecretArn, &b.RedisAuthSecretArn, true)
	str(OutputKMSKeyArn, &b.KMSKeyArn, true)
	num(OutputDatabasePort, &b.DatabasePort)
	num(OutputRedisPort, &b.RedisPort)
	if l, ok := values[OutputPrivateSubnetIDs].([]any); ok {
		for _, x := range l {
			if s, ok := x.(string); ok && s != "" {
				b.PrivateSubnetIDs = append(b.PrivateSubnetIDs, s)
			}
		}
	}
	if len(b.PrivateSubnetIDs) == 0 {
		errs = append(errs, fmt.Sprintf("%s is %v, want subnet ids", OutputPrivateSubnetIDs, values[OutputPrivateSubnetIDs]))
	}
	if m, ok := values[OutputAppSecretArns].(map[string]any); ok {
		for n, v := range m {
			if s, ok := v.(string); ok {
				b.AppSecretArns[n] = s
			}
		}
	} else {
		errs = append(errs, fmt.Sprintf("%s is %v, want a map", OutputAppSecretArns, values[OutputAppSecretArns]))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("outputs of stack %s: %s", base, strings.Join(errs, "; "))
	}
	return b, nil
}
