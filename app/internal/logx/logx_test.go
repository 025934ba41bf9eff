package logx_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/app/internal/logx"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

func TestBuffered(t *testing.T) {
	t.Run("lines are held until the flush and then written whole, in order", func(t *testing.T) {
		var out bytes.Buffer
		b := logx.NewBuffered(&out, time.Hour)
		log := logx.New(b, slog.LevelInfo, "serve")
		for i := range 3 {
			log.Info("line", "i", i)
		}
		if out.Len() != 0 {
			t.Fatalf("written before the flush: %q", out.String())
		}
		b.Close()
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 3 || !strings.Contains(lines[2], `"i":2`) {
			t.Fatalf("%q", out.String())
		}
		log.Info("after close")
		if !strings.Contains(out.String(), "after close") {
			t.Fatal("a line after Close was not written through")
		}
	})
	t.Run("64 KiB pending are written at once", func(t *testing.T) {
		var out bytes.Buffer
		b := logx.NewBuffered(&out, time.Hour)
		_, _ = b.Write(bytes.Repeat([]byte("x"), 64<<10))
		if out.Len() != 64<<10 {
			t.Fatalf("%d bytes written", out.Len())
		}
	})
	t.Run("the interval flushes on its own", func(t *testing.T) {
		var out testenv.SyncBuffer
		b := logx.NewBuffered(&out, time.Millisecond)
		_, _ = b.Write([]byte("line\n"))
		for deadline := time.Now().Add(10 * time.Second); out.String() != "line\n"; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("never flushed")
			}
		}
	})
}
