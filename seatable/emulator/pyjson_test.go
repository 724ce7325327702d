package emulator

import "testing"

// The expected strings below are what CPython 3's json.dumps printed for
// the same values.
func TestPyFloat(t *testing.T) {
	t.Parallel()
	for f, want := range map[float64]string{
		1.5: "1.5", 1e16: "1e+16", 1e15: "1000000000000000.0", 0.0001: "0.0001", 1e-05: "1e-05",
		100.0: "100.0", 0.30000000000000004: "0.30000000000000004", 1234567.891: "1234567.891", 1e22: "1e+22",
		-2.5e-7: "-2.5e-07", 123456789012345678.0: "1.2345678901234568e+17", 1772366400.123: "1772366400.123",
	} {
		if got := pyFloat(f); got != want {
			t.Errorf("pyFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

func TestPyDumps(t *testing.T) {
	t.Parallel()
	got := string(pyDumps(pyObj{
		{"b", []any{true, false, nil, int64(1), "\t\b\f\r\\/é"}},
		{"a", pyObj{}},
	}))
	want := `{"b": [true, false, null, 1, "\t\b\f\r\\/\u00e9"], "a": {}}`
	if got != want {
		t.Errorf("pyDumps =\n%s\nwant\n%s", got, want)
	}
	if got := string(pyDumps("Müller")); got != `"M\u00fcller"` {
		t.Errorf("Müller = %s", got)
	}
	if got := string(pyDumps("😀\x7f")); got != `"\ud83d\ude00\u007f"` {
		t.Errorf("emoji = %s", got)
	}
}

func FuzzPyString(f *testing.F) {
	f.Add("Müller 😀 \"q\"\n")
	f.Fuzz(func(t *testing.T, s string) {
		out := pyDumps(s)
		for _, c := range out {
			if c < 0x20 || c > 0x7e {
				t.Fatalf("non-ASCII byte %q in %s", c, out)
			}
		}
	})
}
