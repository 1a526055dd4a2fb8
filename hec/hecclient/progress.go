package hecclient

import (
	"fmt"
	"time"
)

// progress redraws the one-line indicator at most five times a second.
func (r *replayer) progress(final bool) {
	if r.opts.Progress == nil {
		return
	}
	now := time.Now()
	if !final && r.drewAny && now.Sub(r.lastDraw) < 200*time.Millisecond {
		return
	}
	r.lastDraw, r.drewAny = now, true
	el := now.Sub(r.start)
	rate := 0.0
	if el > 0 {
		rate = float64(r.sum.Events) / el.Seconds()
	}
	fmt.Fprintf(r.opts.Progress, "\rreplay: %d files, %d events, %d requests, %s, %.0f events/s   ",
		r.sum.Files, r.sum.Events, r.sum.Requests, humanBytes(r.sum.Bytes), rate)
}

func (r *replayer) finishProgress() {
	if r.opts.Progress != nil && r.drewAny {
		fmt.Fprint(r.opts.Progress, "\n")
		r.drewAny = false
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
