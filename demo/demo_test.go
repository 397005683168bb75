package demo

import (
	"reflect"
	"testing"
)

func TestReference(t *testing.T) {
	out, err := Reference(100)
	if err != nil {
		t.Fatal(err)
	}
	// seq*37 mod 100 runs through 0..99 once, so 80 of 100 prices exceed 20.
	if len(out) != 80 {
		t.Fatalf("%d outputs for 100 inputs, want 80", len(out))
	}
	if want := []string{"1|GLOBEX|13", "2|INITECH|26"}; !reflect.DeepEqual(out[:2], want) {
		t.Fatalf("first outputs %v, want %v", out[:2], want)
	}
	again, err := Reference(100)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, again) {
		t.Fatal("two reference runs differ")
	}
}
