package emulator

import (
	"strings"
	"time"
)

// dateFormats are the data.format values of date columns the emulator
// knows (those of the OAT test columns); a format with "HH:mm" keeps the
// time of day, the others store the date alone.
var dateFormats = map[string]bool{
	"YYYY-MM-DD": true, "YYYY-MM-DD HH:mm": true,
	"M/D/YYYY": true, "M/D/YYYY HH:mm": true,
	"DD/MM/YYYY": true, "DD/MM/YYYY HH:mm": true,
	"DD.MM.YYYY": true, "DD.MM.YYYY HH:mm": true,
}

// defaultDateFormat is the format of a date column whose fixture names
// none.
const defaultDateFormat = "YYYY-MM-DD HH:mm"

// dateLayout is one accepted written form of a date.
type dateLayout struct {
	layout string
	clock  bool
}

// isoLayouts and dotLayouts are accepted by every date column.
var isoLayouts = []dateLayout{
	{time.RFC3339Nano, true},
	{"2006-01-02T15:04:05.999999999-07:00", true},
	{"2006-01-02T15:04:05.999999999", true},
	{"2006-01-02T15:04", true},
	{"2006-01-02 15:04:05", true},
	{"2006-01-02 15:04", true},
	{"2006-01-02", false},
	{"2006/01/02 15:04", true},
	{"2006/01/02", false},
	{"02.01.2006 15:04", true},
	{"02.01.2006", false},
}

// A slash date with the year last is month first ("6/5/2024" is June 5)
// unless the column's format is day first (DD/MM/YYYY, where "05/06/2024"
// is June 5): the OAT listRows snapshot shows both.
var (
	monthFirst = []dateLayout{{"1/2/2006 15:04", true}, {"1/2/2006", false}}
	dayFirst   = []dateLayout{{"2/1/2006 15:04", true}, {"2/1/2006", false}}
)

// parseDate turns a written date into SeaTable's raw stored form: the
// wall-clock date ("2006-01-02") or date and time ("2006-01-02 15:04") in
// the server's zone loc, without an offset. A value with an offset is
// converted into loc first; one without is already loc's wall clock. A
// column whose format has no time stores the date alone. ok is false when
// s is no date (SeaTable then stores null, OAT #5).
func (c *column) parseDate(s string, loc *time.Location) (string, bool) {
	s = strings.TrimSpace(s)
	format := c.dateFormat
	if format == "" {
		format = defaultDateFormat
	}
	slash := monthFirst
	if strings.HasPrefix(format, "DD/") {
		slash = dayFirst
	}
	for _, layouts := range [][]dateLayout{isoLayouts, slash} {
		for _, l := range layouts {
			t, err := time.ParseInLocation(l.layout, s, loc)
			if err != nil {
				continue
			}
			t = t.In(loc)
			if !l.clock || !strings.Contains(format, "HH:mm") {
				return t.Format("2006-01-02"), true
			}
			return t.Format("2006-01-02 15:04"), true
		}
	}
	return "", false
}

// isoDate renders a raw stored date ("2006-01-02" or "2006-01-02 15:04",
// a wall-clock time in the server's zone loc) as the gateway returns it:
// ISO 8601 with loc's offset at that date, "2030-06-20T23:55:00+02:00"
// (OAT listRows snapshot, a server in Europe/Berlin).
func isoDate(raw string, loc *time.Location) string {
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, raw, loc); err == nil {
			return t.Format("2006-01-02T15:04:05-07:00")
		}
	}
	return raw
}

// isoTime renders _ctime/_mtime as SeaTable does:
// "2021-03-10T16:19:31.761+00:00" (always UTC [I]).
func isoTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000+00:00")
}
