package emulator

import (
	"net/http"
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tz database:", err)
	}
	cases := []struct {
		format, in, want string
		loc              *time.Location
	}{
		{"", "2030/06/20 23:55", "2030-06-20 23:55", time.UTC},
		{"YYYY-MM-DD", "2030/06/20 23:55", "2030-06-20", time.UTC}, // a date-only column drops the time
		{"YYYY-MM-DD HH:mm", "20.06.2030 23:55", "2030-06-20 23:55", time.UTC},
		{"M/D/YYYY", "6/5/2024", "2024-06-05", time.UTC},
		{"DD/MM/YYYY", "05/06/2024", "2024-06-05", time.UTC},
		{"DD/MM/YYYY", "31/12/2031", "2031-12-31", time.UTC},
		{"M/D/YYYY HH:mm", "12/31/2031 11:30", "2031-12-31 11:30", time.UTC},
		// An offset is converted into the server's zone; no offset is its
		// wall clock.
		{"", "2026-03-20T10:11:12.123456789Z", "2026-03-20 11:11", berlin},
		{"", "2026-07-20T10:11:12+00:00", "2026-07-20 12:11", berlin},
		{"", "2026-07-20 10:11", "2026-07-20 10:11", berlin},
		{"", "13/31/2025", "", time.UTC}, // OAT #5: no date, stored as null
	}
	for _, c := range cases {
		got, ok := (&column{typ: "date", dateFormat: c.format}).parseDate(c.in, c.loc)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("%q in %q (%s): %q %v, want %q", c.in, c.format, c.loc, got, ok, c.want)
		}
	}
}

func TestTimeZone(t *testing.T) {
	t.Parallel()
	f, err := ParseFixture("tz.yaml", []byte(`
timezone: Europe/Berlin
bases:
  - name: crm
    tables:
      - name: Deals
        columns:
          - { name: Name, type: text }
          - { name: Due, type: date }
          - { name: Day, type: date, format: DD.MM.YYYY }
        rows:
          - { Name: summer, Due: "2030-06-20 23:55", Day: "20.06.2030" }
          - { Name: winter, Due: "2031-12-31 11:30", Day: "2031-12-31" }
`))
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Limits: []Limit{}}
	f.Settings.Apply(&opts)
	if opts.TimeZone == nil || opts.TimeZone.String() != "Europe/Berlin" {
		t.Fatalf("timezone = %v", opts.TimeZone)
	}
	e := New(opts)
	infos, err := e.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	tok := exchange(t, e, infos[0].APIToken, "Token")
	rec := gw(t, e, infos[0], tok, "GET", "/rows/?table_name=Deals&convert_keys=true", nil)
	wantStatus(t, rec, http.StatusOK)
	rows := decodeMap(t, rec)["rows"].([]any)
	summer, winter := rows[0].(map[string]any), rows[1].(map[string]any)
	if summer["Due"] != "2030-06-20T23:55:00+02:00" || summer["Day"] != "2030-06-20T00:00:00+02:00" {
		t.Errorf("summer: Due %v, Day %v", summer["Due"], summer["Day"])
	}
	if winter["Due"] != "2031-12-31T11:30:00+01:00" {
		t.Errorf("winter: Due %v", winter["Due"])
	}
	m := decodeMap(t, gw(t, e, infos[0], tok, "POST", "/sql", map[string]any{"sql": "SELECT Due FROM Deals WHERE Due > '2030-06-20T21:00:00Z'", "convert_keys": true}))
	res, _ := m["results"].([]any)
	if len(res) != 2 || res[0].(map[string]any)["Due"] != "2030-06-20T23:55:00+02:00" {
		t.Errorf("SQL results %v", m["results"])
	}

	t.Run("bad zone", func(t *testing.T) {
		_, err := ParseFixture("tz.yaml", []byte("timezone: Mars/Olympus\nbases: []\n"))
		if err == nil || err.Error() != `tz.yaml:1:11: timezone "Mars/Olympus": not a known time zone` {
			t.Errorf("err = %v", err)
		}
	})
}
