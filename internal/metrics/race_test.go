//go:build race

package metrics

// raceEnabled: the race detector changes what allocates, so allocation counts are not checked.
const raceEnabled = true
