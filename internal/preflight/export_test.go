package preflight

// StackDir is stackDir for the external tests (stackconfig_test.go).
var StackDir = stackDir
