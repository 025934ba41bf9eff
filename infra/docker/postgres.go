package docker

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PostgresArgs configures the Postgres container.
type PostgresArgs struct {
	// Image is the official image name (config local.images.postgres).
	Image         string
	ContainerName string
	VolumeName    string
	// Network is the private network's name; Alias the container's name on it.
	Network  pulumi.StringInput
	Alias    string
	Port     int
	Database string
	Username string
	Password pulumi.StringInput
	// TLS is what the server presents; network clients must use TLS.
	TLS  *PostgresTLS
	Logs LogOptions
	// Stack labels the container and volume (StackLabel).
	Stack string
}

// PostgresTLS is the server's TLS material (PEM) and the name of the volume
// through which it hands its CA certificate to the app containers.
type PostgresTLS struct {
	CACert, ServerCert pulumi.StringInput
	// ServerKey is a secret: it is uploaded into the container (mode 0600)
	// and appears in no env var, argument or log.
	ServerKey    pulumi.StringInput
	CAVolumeName string
}

// Postgres is the database container with its image and named volume.
type Postgres struct {
	pulumi.ResourceState

	Container     *docker.Container
	ContainerName pulumi.StringOutput
	// CAVolume is the name of the volume holding the CA certificate
	// (DatabaseCADir/ca.pem), for the app containers to mount read-only.
	CAVolume pulumi.StringOutput
}

// PostgresDataDir is where the official image keeps its data.
const PostgresDataDir = "/var/lib/postgresql/data"

// Where the Postgres container's TLS files are.
const (
	// PostgresTLSUploadDir receives the uploaded CA certificate, server
	// certificate and key (root's, the key 0600).
	PostgresTLSUploadDir = "/etc/shipyard/postgres-tls"
	// PostgresTLSDir holds the copies the server reads (the key must be
	// the server user's and 0600), and the pg_hba.conf it runs with.
	PostgresTLSDir = "/var/lib/postgresql/tls"
	// DatabaseCADir is where the CA volume is mounted, in the Postgres
	// container (which writes ca.pem into it at every start) and read-only
	// in the app containers: the directory of
	// stackconfig.LocalDatabaseCAPath.
	DatabaseCADir = "/etc/shipyard/postgres-ca"
)

// PostgresHBA are the lines of the client authentication file the local
// Postgres runs with (hba_file): the Unix socket trusts (docker exec psql,
// pg_dump, the image's init scripts), TCP takes only TLS with a password,
// so no client on the network can fall back to plaintext.
var PostgresHBA = []string{"local all all trust", "hostssl all all all scram-sha-256"}

// PostgresTLSCommand is the Postgres container's command: as root it
// installs the uploaded TLS files where the server may read them, publishes
// the CA certificate on the CA volume and writes PostgresHBA, then hands
// over to the image's entrypoint (initdb on first start, then the server as
// the postgres user) with TLS on. It prints nothing; the key never appears
// in an argument or the environment.
var PostgresTLSCommand = []string{"sh", "-c", `set -eu
install -d -o postgres -g postgres -m 0700 ` + PostgresTLSDir + `
install -o postgres -g postgres -m 0600 ` + PostgresTLSUploadDir + `/server.key ` + PostgresTLSDir + `/server.key
install -o postgres -g postgres -m 0644 ` + PostgresTLSUploadDir + `/server.crt ` + PostgresTLSDir + `/server.crt
printf '%s\n' '` + strings.Join(PostgresHBA, "' '") + `' >` + PostgresTLSDir + `/pg_hba.conf
chown postgres:postgres ` + PostgresTLSDir + `/pg_hba.conf
install -m 0644 ` + PostgresTLSUploadDir + `/ca.pem ` + DatabaseCADir + `/ca.pem
exec docker-entrypoint.sh postgres -c ssl=on -c ssl_cert_file=` + PostgresTLSDir + `/server.crt -c ssl_key_file=` + PostgresTLSDir + `/server.key -c hba_file=` + PostgresTLSDir + `/pg_hba.conf`}

// NewPostgres creates the Postgres container: the official image's env
// interface, a named volume for the data, the network alias, a readiness
// health check the deploy waits for.
func NewPostgres(ctx *pulumi.Context, name string, args *PostgresArgs, opts ...pulumi.ResourceOption) (*Postgres, error) {
	c := &Postgres{}
	if err := ctx.RegisterComponentResource("shipyard:docker:Postgres", name, c, opts...); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	parent := pulumi.Parent(c)
	if args.TLS == nil {
		return nil, fmt.Errorf("postgres: no TLS material: the app verifies the server (DATABASE_URL sslmode=verify-full)")
	}
	// Not retained: it holds nothing but the CA certificate, which the
	// Postgres container writes again at every start.
	caVolume, err := docker.NewVolume(ctx, name+"-ca", &docker.VolumeArgs{
		Name:   pulumi.String(args.TLS.CAVolumeName),
		Labels: docker.VolumeLabelArray{docker.VolumeLabelArgs{Label: pulumi.String(StackLabel), Value: pulumi.String(args.Stack)}},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("postgres ca volume: %w", err)
	}
	c.CAVolume = caVolume.Name
	upload := func(file string, content pulumi.StringInput, mode string) docker.ContainerUploadArgs {
		return docker.ContainerUploadArgs{File: pulumi.String(PostgresTLSUploadDir + "/" + file), Content: content, Permissions: pulumi.String(mode)}
	}
	c.Container, err = newDataStore(ctx, name, dataStore{
		Image: args.Image, ContainerName: args.ContainerName, VolumeName: args.VolumeName,
		DataDir: PostgresDataDir, Network: args.Network, Alias: args.Alias, Logs: args.Logs, Stack: args.Stack,
		Envs: pulumi.StringArray{
			pulumi.String("POSTGRES_USER=" + args.Username),
			pulumi.String("POSTGRES_DB=" + args.Database),
			pulumi.Sprintf("POSTGRES_PASSWORD=%s", args.Password),
		},
		Command: pulumi.ToStringArray(PostgresTLSCommand),
		Uploads: docker.ContainerUploadArray{
			upload("ca.pem", args.TLS.CACert, "0644"),
			upload("server.crt", args.TLS.ServerCert, "0644"),
			upload("server.key", args.TLS.ServerKey, "0600"),
		},
		Volumes: docker.ContainerVolumeArray{
			docker.ContainerVolumeArgs{VolumeName: caVolume.Name, ContainerPath: pulumi.String(DatabaseCADir)},
		},
		Healthcheck: &docker.ContainerHealthcheckArgs{
			Tests: pulumi.StringArray{pulumi.String("CMD"), pulumi.String("pg_isready"), pulumi.String("-h"), pulumi.String("127.0.0.1"),
				pulumi.String("-p"), pulumi.String(strconv.Itoa(args.Port)), pulumi.String("-U"), pulumi.String(args.Username), pulumi.String("-d"), pulumi.String(args.Database)},
			Interval:    pulumi.String("2s"),
			Timeout:     pulumi.String("5s"),
			Retries:     pulumi.Int(60), // a slow first start (initdb) on a busy machine
			StartPeriod: pulumi.String("5s"),
		},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	c.ContainerName = c.Container.Name
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"containerName": c.ContainerName, "caVolume": c.CAVolume}); err != nil {
		return nil, fmt.Errorf("postgres outputs: %w", err)
	}
	return c, nil
}
