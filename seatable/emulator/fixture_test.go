package emulator

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFixtureGood(t *testing.T) {
	f, err := LoadFixtureFile("testdata/crm.good.yaml")
	if err != nil {
		t.Fatalf("LoadFixtureFile: %v", err)
	}
	if len(f.Bases) != 2 || f.Bases[0].Name != "crm" || f.Bases[1].Name != "shop" {
		t.Fatalf("bases = %+v", f.Bases)
	}
	deals := f.Bases[0].Tables[0]
	if len(deals.Columns) != 10 || len(deals.Rows) != 2 {
		t.Fatalf("Deals has %d columns, %d rows", len(deals.Columns), len(deals.Rows))
	}
	if got := deals.Rows[0]["Won At"]; got != "2030-06-20" {
		t.Errorf("unquoted date cell = %#v, want the string", got)
	}
	if got := deals.Columns[1].Options; strings.Join(got, ",") != "Lead,Won,Lost" {
		t.Errorf("options = %v", got)
	}
}

// TestParseFixtureBad checks every testdata/*.bad.yaml against the
// messages in the .bad.err file beside it, one problem a line.
func TestParseFixtureBad(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(file, ".yaml") + ".err")
			if err != nil {
				t.Fatal(err)
			}
			_, err = LoadFixtureFile(file)
			var fe *FixtureError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FixtureError", err)
			}
			if got := err.Error() + "\n"; got != string(want) {
				t.Errorf("errors:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestParseFixtureSyntax(t *testing.T) {
	_, err := ParseFixture("x.yaml", []byte("bases: [\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "x.yaml:") {
		t.Fatalf("err = %v, want a message naming the file", err)
	}
	_, err = ParseFixture("x.yaml", []byte(""))
	if err == nil || err.Error() != "x.yaml:1:1: empty fixture" {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParseFixture(f *testing.F) {
	for _, name := range []string{"testdata/crm.good.yaml", "testdata/values.bad.yaml", "testdata/option.bad.yaml", "testdata/formula.bad.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fx, err := ParseFixture("fuzz.yaml", data)
		if err != nil {
			var fe *FixtureError
			if !errors.As(err, &fe) || len(fe.Problems) == 0 {
				t.Fatalf("error %v is no *FixtureError with problems", err)
			}
			return
		}
		// A fixture that parses must load.
		e := New(Options{})
		infos, err := e.Load(fx)
		if err != nil {
			t.Fatalf("parsed fixture does not load: %v", err)
		}
		for i, info := range infos {
			for _, tb := range fx.Bases[i].Tables {
				if _, err := e.Rows(info.UUID, tb.Name); err != nil {
					t.Fatalf("rows of %s: %v", tb.Name, err)
				}
			}
		}
	})
}

// TestFixtureRelativeDates: "today±Nd" date cells resolve on the
// emulator's clock when the fixture is loaded, so a fixture means the same
// whatever the calendar says; a malformed one is refused with its position.
func TestFixtureRelativeDates(t *testing.T) {
	f, err := ParseFixture("rel.yaml", []byte(`
bases:
  - name: crm
    tables:
      - name: Tasks
        columns:
          - { name: Title, type: text }
          - { name: Due, type: date }
        rows:
          - { Title: past, Due: "today-11d" }
          - { Title: soon, Due: "today+23d" }
          - { Title: now, Due: today }
          - { Title: fixed, Due: "2030-06-20" }
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, now := range []time.Time{
		time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC),
		time.Date(2031, 2, 27, 23, 59, 0, 0, time.UTC),
	} {
		e := New(Options{Now: func() time.Time { return now }})
		if _, err := e.Load(f); err != nil {
			t.Fatal(err)
		}
		rows, err := e.Rows("crm", "Tasks")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]any{}
		for _, r := range rows {
			got[r["Title"].(string)] = r["Due"]
		}
		want := map[string]any{
			"past":  now.AddDate(0, 0, -11).Format("2006-01-02") + "T00:00:00+00:00",
			"soon":  now.AddDate(0, 0, 23).Format("2006-01-02") + "T00:00:00+00:00",
			"now":   now.Format("2006-01-02") + "T00:00:00+00:00",
			"fixed": "2030-06-20T00:00:00+00:00",
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("now %s: %s Due = %v, want %v", now.Format(time.DateOnly), k, got[k], w)
			}
		}
	}
	for _, bad := range []string{"today+", "today+3", "today*3d", "tomorrow", "today+-3d"} {
		_, err := ParseFixture("rel.yaml", []byte(`
bases:
  - name: crm
    tables:
      - name: Tasks
        columns: [ { name: Due, type: date } ]
        rows: [ { Due: "`+bad+`" } ]
`))
		if err == nil || !strings.Contains(err.Error(), "rel.yaml:7:") {
			t.Errorf("%q: err = %v, want a bad date at rel.yaml:7", bad, err)
		}
	}
}

// TestExampleFixtureKeepsItsMeaning: the README's walk-through relies on
// the example fixture having one open task past due and one not yet due,
// on whatever day it is run. Loaded on two days a year apart, it has.
func TestExampleFixtureKeepsItsMeaning(t *testing.T) {
	f, err := LoadFixtureFile("../../rules.example.fixture.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, now := range []time.Time{time.Now(), time.Now().AddDate(1, 0, 0), time.Now().AddDate(5, 0, 0)} {
		e := New(Options{Now: func() time.Time { return now }})
		if _, err := e.Load(f); err != nil {
			t.Fatal(err)
		}
		rows, err := e.Rows("crm", "Tasks")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			due, err := time.Parse(time.RFC3339, r["Due"].(string))
			if err != nil {
				t.Fatalf("%s: Due %v: %v", r["Title"], r["Due"], err)
			}
			switch r["Title"] {
			case "Send contract", "Old follow-up":
				if !due.Before(now) {
					t.Errorf("on %s %q is due %s, want past due", now.Format(time.DateOnly), r["Title"], due)
				}
			case "Call back":
				if !due.After(now) {
					t.Errorf("on %s %q is due %s, want not yet due", now.Format(time.DateOnly), r["Title"], due)
				}
			}
		}
	}
}
