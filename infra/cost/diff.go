package cost

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// Change marks a line of a Diff.
const (
	Added   = "+"
	Removed = "-"
	Changed = "~"
)

// LineDiff is one line whose cost differs between two estimates.
type LineDiff struct {
	Change string `json:"change"`
	ID     string `json:"id"`
	Name   string `json:"name"`
	// Old and New are the line's monthly cost (nil: absent, or usage
	// unknown); Delta is New - Old with an absent or unknown side as 0.
	Old       *float64 `json:"old"`
	New       *float64 `json:"new"`
	Delta     float64  `json:"delta"`
	OldDetail string   `json:"oldDetail,omitempty"`
	NewDetail string   `json:"newDetail,omitempty"`
	UnitPrice float64  `json:"unitPrice"`
	Unit      string   `json:"unit"`
	PriceDate string   `json:"priceDate"`
}

// Diff is the cost of a change: the lines that differ, in the new
// estimate's order followed by the removed lines in the old one's order.
type Diff struct {
	Stack     string  `json:"stack"`
	Base      string  `json:"base"`
	PriceDate string  `json:"priceDate"`
	OldTotal  float64 `json:"oldTotal"`
	NewTotal  float64 `json:"newTotal"`
	// Total is NewTotal - OldTotal; Percent is it relative to OldTotal
	// (0 when OldTotal is 0).
	Total   float64    `json:"total"`
	Percent float64    `json:"percent"`
	Lines   []LineDiff `json:"lines"`
	// Old is nil when the stack did not exist at Base.
	Old *Estimate `json:"-"`
	New *Estimate `json:"-"`
}

// Compare returns the difference from old (the config at base; nil when
// the stack had none) to new.
func Compare(base string, old, new *Estimate) *Diff {
	d := &Diff{Stack: new.Stack, Base: base, PriceDate: new.PriceDate, NewTotal: new.Total, Old: old, New: new, Lines: []LineDiff{}}
	oldLines := map[string]Line{}
	if old != nil {
		d.OldTotal = old.Total
		for _, l := range old.Lines {
			oldLines[l.ID] = l
		}
	}
	seen := map[string]bool{}
	for _, n := range new.Lines {
		seen[n.ID] = true
		o, had := oldLines[n.ID]
		ld := LineDiff{ID: n.ID, Name: n.Name, New: n.Monthly, NewDetail: n.Detail, UnitPrice: n.UnitPrice, Unit: n.Unit, PriceDate: n.PriceDate}
		switch {
		case !had:
			ld.Change = Added
		case !sameMonthly(o.Monthly, n.Monthly) || o.Detail != n.Detail || o.UnitPrice != n.UnitPrice:
			ld.Change, ld.Old, ld.OldDetail = Changed, o.Monthly, o.Detail
		default:
			continue
		}
		ld.Delta = round(deref(ld.New, 0) - deref(ld.Old, 0))
		d.Lines = append(d.Lines, ld)
	}
	if old != nil {
		for _, o := range old.Lines {
			if seen[o.ID] {
				continue
			}
			d.Lines = append(d.Lines, LineDiff{Change: Removed, ID: o.ID, Name: o.Name, Old: o.Monthly, OldDetail: o.Detail,
				Delta: round(-deref(o.Monthly, 0)), UnitPrice: o.UnitPrice, Unit: o.Unit, PriceDate: o.PriceDate})
		}
	}
	d.Total = round(d.NewTotal - d.OldTotal)
	if d.OldTotal != 0 {
		d.Percent = math100(d.Total / d.OldTotal)
	}
	return d
}

func math100(x float64) float64 { return float64(int64(x*10000+sign(x)*0.5)) / 100 }

func sign(x float64) float64 {
	if x < 0 {
		return -1
	}
	return 1
}

func sameMonthly(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// WriteText prints the diff: a line per changed item (+ added, - removed,
// ~ changed) with old and new monthly cost, then the totals.
func (d *Diff) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "Monthly cost change of stack %s since %s, on-demand prices of %s (%s)\n\n", d.Stack, d.Base, d.PriceDate, PricesFile)
	if d.Old == nil {
		fmt.Fprintf(w, "  (config/%s.json does not exist at %s: every line is new)\n\n", d.Stack, d.Base)
	}
	if len(d.Lines) == 0 {
		fmt.Fprintln(w, "  no line changed")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  \tITEM\tBEFORE\tAFTER\tCHANGE\tUNIT PRICE")
		for _, l := range d.Lines {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s/%s\n", l.Change, l.Name, side(l.Old, l.OldDetail, l.Change == Added),
				side(l.New, l.NewDetail, l.Change == Removed), signedCents(l.Delta), usd(l.UnitPrice), l.Unit)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	pct := "n/a"
	if d.OldTotal != 0 {
		pct = fmt.Sprintf("%+.2f%%", d.Percent)
	}
	fmt.Fprintf(w, "\n  Total  %s -> %s per month: %s (%s)\n", cents(d.OldTotal), cents(d.NewTotal), signedCents(d.Total), pct)
	return nil
}

func side(m *float64, detail string, absent bool) string {
	switch {
	case absent:
		return "-"
	case m == nil:
		return "usage unknown"
	case detail != "":
		return cents(*m) + " (" + detail + ")"
	}
	return cents(*m)
}

// WriteJSON prints the diff as one JSON object.
func (d *Diff) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}
