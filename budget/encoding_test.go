package budget

import (
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

func TestEncodingRoundTripAndSize(t *testing.T) {
	t.Parallel()
	l := DefaultLimits()
	s := &State{}
	// A full day at the default limits: 5,000 urgent calls, 300 a minute
	// in bursts spread over the day.
	now := t0
	for i := 0; i < 5000; i += 250 {
		mustAdmit(t, s, l, seaflow.Urgent, now, 250)
		now = now.Add(70 * time.Minute).Add(123456789)
	}
	s.Freeze(now.Add(time.Minute))
	s.ObserveHeaders(300, 7, now.Add(30*time.Second), now)
	data, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 5000 || len(data) > 5000*5 {
		t.Fatalf("%d calls take %d bytes", s.Len(), len(data))
	}
	t.Logf("%d calls encode to %d bytes", s.Len(), len(data))
	var back State
	if err := back.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	for _, lane := range seaflow.Lanes {
		if a, b := s.Next(l, lane, now), back.Next(l, lane, now); !a.Equal(b) {
			t.Fatalf("%s: next %s before encoding, %s after", lane, a, b)
		}
	}
	if a, b := s.Usage(l, now), back.Usage(l, now); a[0] != b[0] || a[1] != b[1] {
		t.Fatalf("usage %+v before encoding, %+v after", a, b)
	}
	// Evenly paced (one call every 17.28 s) is the widest case.
	paced := &State{}
	for i := range 5000 {
		mustAdmit(t, paced, l, seaflow.Urgent, t0.Add(time.Duration(i)*17280*time.Millisecond+time.Duration(i%997)), 1)
	}
	data, _ = paced.MarshalBinary()
	if paced.Len() != 5000 || len(data) > 5000*5+64 {
		t.Fatalf("%d paced calls take %d bytes", paced.Len(), len(data))
	}
	t.Logf("%d evenly paced calls encode to %d bytes", paced.Len(), len(data))
	var empty State
	data, _ = empty.MarshalBinary()
	if len(data) > 16 {
		t.Fatalf("empty state takes %d bytes", len(data))
	}
}

func TestUnmarshalRejectsCorruptData(t *testing.T) {
	t.Parallel()
	s := &State{}
	mustAdmit(t, s, DefaultLimits(), seaflow.Urgent, t0, 3)
	good, _ := s.MarshalBinary()
	for name, data := range map[string][]byte{
		"empty":     nil,
		"version":   append([]byte{9}, good[1:]...),
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte{}, good...), 0),
		"huge log":  {1, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x03},
	} {
		var st State
		if err := st.UnmarshalBinary(data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	s := &State{}
	mustAdmitF := func(at time.Time, n int) {
		for range n {
			s.Admit(DefaultLimits(), seaflow.Urgent, at)
		}
	}
	mustAdmitF(t0, 3)
	mustAdmitF(t0.Add(time.Hour), 2)
	good, _ := s.MarshalBinary()
	f.Add(good)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var st State
		if err := st.UnmarshalBinary(data); err != nil {
			return
		}
		for i := 1; i < len(st.log); i++ {
			if st.log[i] < st.log[i-1] {
				t.Fatal("decoded log out of order")
			}
		}
		again, err := st.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var st2 State
		if err := st2.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		st.Admit(DefaultLimits(), seaflow.Bulk, t0)
	})
}
