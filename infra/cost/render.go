package cost

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteText prints the estimate as a table: a line per priced item with
// its quantity, unit price (and that price's date) and monthly cost; usage
// lines without a stated usage show their unit price and the field to set.
func (e *Estimate) WriteText(w io.Writer) error {
	if e.PreviewOf != "" {
		fmt.Fprintf(w, "Cost of PR environment %s (%s) beyond its base stack %s's, on-demand prices of %s (%s)\n\n", e.Stack, e.Region, e.PreviewOf, e.PriceDate, e.PriceFile)
	} else {
		fmt.Fprintf(w, "Monthly cost of stack %s (%s), on-demand prices of %s (%s)\n\n", e.Stack, e.Region, e.PriceDate, e.PriceFile)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ITEM\tKIND\tQUANTITY\tUNIT PRICE\tPRICE OF\tMONTHLY")
	for _, l := range e.Lines {
		qty, monthly := "usage unknown", "set "+l.UsageField
		if l.UsageField == "" {
			monthly = "unknown"
		}
		if l.Quantity != nil {
			qty = num(*l.Quantity) + " " + plural(l.Unit, *l.Quantity)
			monthly = cents(*l.Monthly)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s/%s\t%s\t%s\n", l.Name, l.Kind, qty, usd(l.UnitPrice), l.Unit, l.PriceDate, monthly)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n  Baseline  %s\n  Usage     %s\n  Total     %s per month (prices of %s)\n", cents(e.Baseline), cents(e.Usage), cents(e.Total), e.PriceDate)
	if e.Range.Min != e.Range.Max {
		fmt.Fprintf(w, "  Range     %s at the services' minCount to %s at their maxCount\n", cents(e.Range.Min), cents(e.Range.Max))
	}
	if e.PreviewOf != "" {
		fmt.Fprintf(w, "  Per hour  %s while it is up\n", usd(e.Hourly))
	}
	if len(e.Unpriced) > 0 && e.PreviewOf != "" {
		fmt.Fprintf(w, "  Not in the total (the PR's own log volume, unknown; unit prices above): %s\n", strings.Join(e.Unpriced, ", "))
	} else if len(e.Unpriced) > 0 {
		fmt.Fprintf(w, "  Not in the total (usage unknown; unit prices above, set cost.usage in config/%s.json): %s\n", e.Stack, strings.Join(e.Unpriced, ", "))
	}
	return nil
}

// WriteJSON prints the estimate as one JSON object.
func (e *Estimate) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(e)
}

// usd formats dollars: cents, or every decimal of a price finer than a
// cent ($0.04048, $0.004445).
func usd(x float64) string {
	s := strconv.FormatFloat(x, 'f', 2, 64)
	if full := strconv.FormatFloat(x, 'f', -1, 64); len(full) > len(s) {
		s = full
	}
	if strings.HasPrefix(s, "-") {
		return "-$" + s[1:]
	}
	return "$" + s
}

// cents formats a monthly amount to the cent.
func cents(x float64) string {
	if x < 0 {
		return fmt.Sprintf("-$%.2f", -x)
	}
	return fmt.Sprintf("$%.2f", x)
}

// signedCents formats a difference to the cent, with its sign.
func signedCents(x float64) string {
	if x > 0 {
		return "+" + cents(x)
	}
	return cents(x)
}

func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

func plural(unit string, n float64) string {
	switch {
	case n == 1:
		return unit
	case strings.HasSuffix(unit, "hour"), strings.HasSuffix(unit, "month"):
		return unit + "s"
	}
	return unit
}
