package jobs_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/app/internal/jobs"
)

// TestQueuesIsNoSharedState: the queues the worker consumes come as a new
// map each time, so a caller changing its copy changes neither the next
// one nor the published backlog's queue list.
func TestQueuesIsNoSharedState(t *testing.T) {
	q := jobs.Queues()
	q["other"] = 5
	delete(q, jobs.QueueDefault)
	if got := jobs.Queues(); !maps.Equal(got, map[string]int{jobs.QueueDefault: 1}) {
		t.Errorf("Queues() = %v after a caller changed its map, want only %s", got, jobs.QueueDefault)
	}
	if got := jobs.QueueNames(); !slices.Equal(got, []string{jobs.QueueDefault}) {
		t.Errorf("QueueNames() = %v after a caller changed its map, want [%s]", got, jobs.QueueDefault)
	}
}

// TestWaitPollIsAConstant: nothing in the process can change how often
// waiting jobs look again (it does not compile if WaitPoll is a variable
// again).
func TestWaitPollIsAConstant(t *testing.T) {
	const poll = jobs.WaitPoll
	if poll <= 0 || poll > time.Second {
		t.Fatalf("WaitPoll = %s, want a poll within (0, 1s]", poll)
	}
}
