package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// WebAPI is Slack's Web API base URL.
const WebAPI = "https://slack.com/api/"

// Channel is a conversation the platform's Slack app can see.
type Channel struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Archived bool   `json:"is_archived"`
}

// Directory lists the channels a Slack token sees. The token needs only
// channels:read and groups:read: CI holds it, so it must not be the token
// that posts alerts.
type Directory struct {
	API   string // default WebAPI
	Token string
	HTTP  *http.Client
	// Wait waits out a rate limit (nil: the clock; tests count instead).
	Wait func(ctx context.Context, d time.Duration) error
}

// waitFor waits d on the clock, or until ctx ends.
func waitFor(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// Channels returns every public and private channel the token can see,
// following Slack's pagination and waiting out its rate limit (at most a
// minute in all).
func (d *Directory) Channels(ctx context.Context) ([]Channel, error) {
	base := d.API
	if base == "" {
		base = WebAPI
	}
	client := d.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	var out []Channel
	cursor, waited := "", time.Duration(0)
	for {
		q := url.Values{"types": {"public_channel,private_channel"}, "limit": {"1000"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/conversations.list?"+q.Encode(), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+d.Token)
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("slack: %w", err)
		}
		var page struct {
			OK       bool      `json:"ok"`
			Error    string    `json:"error"`
			Needed   string    `json:"needed"`
			Channels []Channel `json:"channels"`
			Meta     struct {
				NextCursor string `json:"next_cursor"`
			} `json:"response_metadata"`
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			resp.Body.Close()
			wait := time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
				wait = time.Duration(s) * time.Second
			}
			if waited += wait; waited > time.Minute {
				return nil, fmt.Errorf("slack: still rate-limited after %s; try again later", waited)
			}
			sleep := d.Wait
			if sleep == nil {
				sleep = waitFor
			}
			if err := sleep(ctx, wait); err != nil {
				return nil, err
			}
			continue
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		switch {
		case err != nil:
			return nil, fmt.Errorf("slack: conversations.list answered %s, not JSON: %w", resp.Status, err)
		case !page.OK && page.Needed != "":
			return nil, fmt.Errorf("slack: %s: the token needs the scope %s", page.Error, page.Needed)
		case !page.OK:
			return nil, fmt.Errorf("slack: %s", page.Error)
		}
		out = append(out, page.Channels...)
		if cursor = page.Meta.NextCursor; cursor == "" {
			return out, nil
		}
	}
}

// ChannelProblem says why alerts cannot be delivered to a channel, or "".
// A channel is named as in the spec: "#name", "name" or its ID. Membership is
// not required: the posting app has chat:write.public (docs/alerts.md), and a
// private channel is visible to the token only if its app was invited.
func ChannelProblem(channel string, known []Channel) string {
	want := strings.TrimPrefix(channel, "#")
	for _, c := range known {
		if c.ID == want || c.Name == want {
			if c.Archived {
				return "is archived: choose a live channel"
			}
			return ""
		}
	}
	return "does not exist, or is private and the platform's Slack apps are not in it: check the name, or /invite the apps"
}
