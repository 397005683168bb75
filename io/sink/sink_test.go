package sink

import (
	"context"
	"errors"
	"testing"
)

func TestCheck(t *testing.T) {
	open := true
	ctx := WithFence(context.Background(), func() bool { return open })
	if err := Check(ctx); err != nil {
		t.Fatalf("open fence: %v", err)
	}
	open = false
	if err := Check(ctx); !errors.Is(err, ErrFenced) {
		t.Fatalf("closed fence: %v, want ErrFenced", err)
	}
	if err := Check(context.Background()); err != nil {
		t.Fatalf("no fence: %v", err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Check(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
