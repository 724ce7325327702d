package emulator

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
