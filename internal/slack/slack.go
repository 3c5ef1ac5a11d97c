// Package slack delivers messages to Slack incoming webhooks, retrying what can
// succeed later (429 with Retry-After, 5xx, network errors) with exponential
// backoff, and reporting what cannot (other 4xx) as permanent. The webhook URL is
// a secret: it never appears in an error.
package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/kube-idp/kube/internal/secrets"
)

// Message is a Block Kit message; Text is the notification fallback.
type Message struct {
	Text   string  `json:"text"`
	Blocks []Block `json:"blocks,omitempty"`
}

// Block is one Block Kit block.
type Block struct {
	Type   string  `json:"type"`
	Text   *Text   `json:"text,omitempty"`
	Fields []*Text `json:"fields,omitempty"`
}

// Text is a Block Kit text object.
type Text struct {
	Type string `json:"type"` // mrkdwn or plain_text
	Text string `json:"text"`
}

// Client sends messages. The zero value is usable: 5 attempts, backoff from 1 s
// doubling up to 30 s, a server's Retry-After honoured up to 5 minutes.
type Client struct {
	HTTP        *http.Client
	MaxAttempts int
	BaseDelay   time.Duration
	MaxDelay    time.Duration
	// MaxRetryAfter caps how long a server's Retry-After may make us wait.
	MaxRetryAfter time.Duration
	// OnRetry is told about each retry (for metrics and logs).
	OnRetry func(attempt int, wait time.Duration, reason string)
	// Wait waits before a retry (nil: the clock; tests count instead).
	Wait func(ctx context.Context, d time.Duration) error
}

// RetryableError is a failure that can succeed later: a 429, a 5xx or a network
// error, with how long to wait before attempt number Attempt+1.
type RetryableError struct {
	Err    error
	Wait   time.Duration
	Reason string // the HTTP status or "network", for metrics
}

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// Post makes one attempt. A failure that may succeed later is a
// *RetryableError saying how long to wait before attempt number attempt+1
// (the server's Retry-After, capped, else exponential backoff); a rejection is
// a *PermanentError. Controllers retry by requeueing, never by sleeping.
func (c *Client) Post(ctx context.Context, webhook string, m Message, attempt int) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	wait, reason, err := c.post(ctx, webhook, body)
	var perm *PermanentError
	if err == nil || errors.As(err, &perm) {
		return err
	}
	if wait == 0 {
		wait = c.backoff(attempt)
	}
	return &RetryableError{Err: err, Wait: min(wait, c.maxRetryAfter()), Reason: reason}
}

func (c *Client) maxRetryAfter() time.Duration {
	if c.MaxRetryAfter > 0 {
		return c.MaxRetryAfter
	}
	return 5 * time.Minute
}

// PermanentError is a rejection that retrying cannot fix (a 4xx other than 429:
// a revoked webhook, a malformed message).
type PermanentError struct {
	Status int
	Body   string
}

func (e *PermanentError) Error() string {
	return fmt.Sprintf("slack rejected the message: HTTP %d: %s", e.Status, e.Body)
}

// Send posts m to the webhook, retrying in place as needed (for commands; a
// controller uses Post and requeues). It returns the number of attempts made.
func (c *Client) Send(ctx context.Context, webhook string, m Message) (int, error) {
	maxAttempts := c.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = 5
	}
	for attempts := 1; ; attempts++ {
		err := c.Post(ctx, webhook, m, attempts)
		var retry *RetryableError
		if !errors.As(err, &retry) || attempts >= maxAttempts || ctx.Err() != nil {
			return attempts, err
		}
		if c.OnRetry != nil {
			c.OnRetry(attempts, retry.Wait, retry.Reason)
		}
		wait := c.Wait
		if wait == nil {
			wait = waitFor
		}
		if werr := wait(ctx, retry.Wait); werr != nil {
			return attempts, fmt.Errorf("%w (gave up waiting to retry: %v)", err, werr)
		}
	}
}

// post makes one attempt; for a retryable failure it returns how long the server
// asked to wait (0: use backoff) and a short reason.
func (c *Client) post(ctx context.Context, webhook string, body []byte) (time.Duration, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhook, bytes.NewReader(body))
	if err != nil {
		return 0, "", errors.New("invalid webhook URL") // the URL itself must not be echoed
	}
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		// *url.Error carries the URL: keep only the cause.
		var uerr interface{ Unwrap() error }
		if errors.As(err, &uerr) && uerr.Unwrap() != nil {
			err = uerr.Unwrap()
		}
		return 0, "network", fmt.Errorf("posting to slack: %v", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	text := secrets.Redact(string(bytes.TrimSpace(data)))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return 0, "", nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		var wait time.Duration
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			wait = time.Duration(s) * time.Second
		}
		return wait, strconv.Itoa(resp.StatusCode), fmt.Errorf("slack answered HTTP %d: %s", resp.StatusCode, text)
	default:
		return 0, "", &PermanentError{Status: resp.StatusCode, Body: text}
	}
}

func (c *Client) backoff(attempt int) time.Duration {
	base, maxDelay := c.BaseDelay, c.MaxDelay
	if base == 0 {
		base = time.Second
	}
	if maxDelay == 0 {
		maxDelay = 30 * time.Second
	}
	d := base << (attempt - 1)
	if d > maxDelay || d <= 0 {
		d = maxDelay
	}
	return d
}
