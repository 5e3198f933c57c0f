package vault

import (
	"context"
	"errors"
	"testing"

	"github.com/discofs/discofs/chunkstore"
)

// flakyCatalog fails the first calls of each kind with a retryable error.
type flakyCatalog struct {
	Catalog
	failSaves, failCards int
	saves                int
}

func (f *flakyCatalog) SaveCard(ctx context.Context, c *Card) error {
	if f.failSaves > 0 {
		f.failSaves--
		return chunkstore.RetryAfterError(1, errors.New("503 from the API"))
	}
	f.saves++
	return f.Catalog.SaveCard(ctx, c)
}

func (f *flakyCatalog) Cards(ctx context.Context, fn func(*Card) error) error {
	return f.Catalog.Cards(ctx, func(c *Card) error {
		if err := fn(c); err != nil {
			return err
		}
		if f.failCards > 0 {
			f.failCards--
			return chunkstore.Classify(chunkstore.Retryable, errors.New("connection reset"))
		}
		return nil
	})
}

func TestCatalogRetry(t *testing.T) {
	ctx := context.Background()
	mem := chunkstore.NewMem(chunkstore.Limits{})
	f := &flakyCatalog{Catalog: RecordCatalog(mem), failSaves: 3}
	c := withCatalogRetry(f)
	if err := c.SaveCard(ctx, &Card{ArchiveID: "#261126-01"}); err != nil || f.saves != 1 {
		t.Fatalf("save after 3 retryable failures: %v (saved %d times)", err, f.saves)
	}
	f.failSaves = catalogAttempts
	if err := c.SaveCard(ctx, &Card{ArchiveID: "#261126-02"}); !chunkstore.IsRetryable(err) {
		t.Fatalf("after %d failures: %v", catalogAttempts, err)
	}
	// A listing that failed after handing out a card is not started again.
	f.failCards = 1
	seen := 0
	err := c.Cards(ctx, func(*Card) error { seen++; return nil })
	if err == nil || seen != 1 {
		t.Fatalf("cards: %v after %d cards", err, seen)
	}
}
