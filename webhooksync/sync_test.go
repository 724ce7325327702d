package webhooksync

import (
	"reflect"
	"testing"

	"github.com/seaflow/seaflow/seatable"
)

func TestPlan(t *testing.T) {
	t.Parallel()
	const pub = "https://seaflow.example.com"
	wants := []Want{
		{Name: "crm", URL: pub + "/hooks/crm", Secret: "s", Path: "/hooks/crm"},
		{Name: "shop", URL: pub + "/hooks/shop", Secret: "s", Path: "/hooks/shop"},
		{Name: "new", URL: pub + "/hooks/new", Secret: "s", Path: "/hooks/new"},
	}
	have := []seatable.Webhook{
		{ID: "1", URL: pub + "/hooks/crm", Secret: "s"},                  // up to date
		{ID: "2", URL: "http://old.example.com/hooks/shop", Secret: "x"}, // moved, new secret
		{ID: "3", URL: pub + "/hooks/gone", Secret: "s"},                 // ours, no longer configured
		{ID: "4", URL: "https://zapier.example.com/catch", Secret: ""},   // someone else's
	}
	got := Plan(wants, have, pub, true)
	want := []Change{
		{Action: Unchanged, Name: "crm", ID: "1", URL: pub + "/hooks/crm", OldURL: pub + "/hooks/crm", Secret: "s"},
		{Action: Update, Name: "shop", ID: "2", URL: pub + "/hooks/shop", OldURL: "http://old.example.com/hooks/shop", Secret: "s", SecretChanged: true},
		{Action: Create, Name: "new", URL: pub + "/hooks/new", Secret: "s"},
		{Action: Delete, ID: "3", URL: pub + "/hooks/gone"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("plan\n got %+v\nwant %+v", got, want)
	}
	if s := got[1].String(); s != "update "+pub+"/hooks/shop (shop): url, was http://old.example.com/hooks/shop; secret" {
		t.Errorf("update reads %q", s)
	}
	if noPrune := Plan(wants, have, pub, false); len(noPrune) != 3 {
		t.Errorf("without prune: %+v", noPrune)
	}
	// Two wanted hooks never claim one existing hook.
	twice := Plan([]Want{wants[0], {Name: "copy", URL: pub + "/hooks/crm", Secret: "s", Path: "/hooks/crm"}}, have[:1], pub, false)
	if twice[0].Action != Unchanged || twice[1].Action != Create {
		t.Errorf("duplicate want: %+v", twice)
	}
}
