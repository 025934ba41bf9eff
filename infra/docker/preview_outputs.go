package docker

// The base stack outputs a docker PR stack reads through its
// StackReference (secrets as secret outputs), and `shipyard pr-down`.
const (
	OutputNetworkName      = "networkName"
	OutputDatabaseCAVolume = "databaseCaVolume"
	OutputDatabasePassword = "databasePassword"
	OutputRedisPassword    = "redisPassword"
	OutputHTTPSTLSSeed     = "httpsTlsSeed"
)
