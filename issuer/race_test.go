//go:build race

package issuer_test

// raceEnabled: the race detector makes bcrypt about twelve times slower, so the load test uses a
// lower cost under it.
const raceEnabled = true
