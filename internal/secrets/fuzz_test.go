package secrets

import (
	"net/url"
	"strings"
	"testing"
)

// Whatever surrounds them, credentials are gone after Redact, and InText finds
// the assignments it redacts.
func FuzzRedact(f *testing.F) {
	f.Add("connecting to ", " now", "hunter22hunter")
	f.Add("", "", "abcdEFGH1234")
	f.Add("{\"a\": 1, ", "}", "Zz9_-.~+/=xx")
	f.Fuzz(func(t *testing.T, before, after, value string) {
		// Credentials are tokens (RFC 6750's token68, without '/' for URLs).
		if len(value) < 8 || strings.Trim(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+=") != "" {
			return
		}
		for _, wrap := range []string{
			"password=" + value,
			"postgres://app:" + value + "@db/app",
			"Authorization: Bearer " + value,
			`"api_key": "` + value + `"`,
		} {
			text := before + " " + wrap + " " + after
			out := Redact(text)
			if strings.Contains(out, value) && !strings.Contains(before+after, value) {
				t.Fatalf("Redact(%q) = %q keeps the credential", text, out)
			}
			if !InText(wrap) && !strings.HasPrefix(wrap, "Authorization") && strings.IndexFunc(value, notDigit) >= 0 && !strings.ContainsAny(value[:1], "$/{<%*") {
				t.Fatalf("InText(%q) = false", wrap)
			}
		}
	})
}

// The literal pre-checks in InText only skip texts the regular expressions
// could not match.
func FuzzInTextPrefilter(f *testing.F) {
	f.Add("PASSWORD: hunter22hunter")
	f.Add("paſsword=hunter22hunter")
	f.Add("https://u:p@host/")
	f.Add("xoxb-0123456789abc")
	f.Fuzz(func(t *testing.T, text string) {
		want := secretValue.MatchString(text)
		if !want {
			for _, m := range assignment.FindAllStringSubmatch(text, -1) {
				name, value := m[1], m[2]
				if !referenceSuffix.MatchString(name) && len(value) >= 8 && strings.IndexFunc(value, notDigit) >= 0 && !strings.ContainsAny(value[:1], "$/{<%*") {
					want = true
					break
				}
			}
		}
		if got := InText(text); got != want {
			t.Fatalf("InText(%q) = %v, the regular expressions alone say %v", text, got, want)
		}
	})
}

// Whatever the URL, RedactURL keeps neither its password nor its query's
// values, and InURL finds a URL with a password or a token parameter.
func FuzzRedactURL(f *testing.F) {
	f.Add("prometheus:9090", "/api", "hunter22hunter")
	f.Add("h", "", "x")
	f.Fuzz(func(t *testing.T, host, path, secret string) {
		const plain = "abcdefghijklmnopqrstuvwxyz0123456789.-"
		if len(secret) < 4 || strings.ContainsAny(secret, "/@?#%:[] \t\n") || host == "" || strings.Trim(host, plain) != "" || strings.Trim(path, plain+"/") != "" {
			return
		}
		for _, raw := range []string{
			"https://user:" + secret + "@" + host + "/" + path,
			"https://" + host + "/" + path + "?access_token=" + secret,
		} {
			u, err := url.Parse(raw)
			if err != nil || u.Host != host {
				continue
			}
			if pw, _ := u.User.Password(); pw != secret && u.Query().Get("access_token") != secret {
				continue // the secret landed elsewhere (a fragment, the path)
			}
			if out := RedactURL(raw); strings.Contains(out, secret) && !strings.Contains(host+path, secret) && !strings.Contains("https://***access_token=", secret) {
				t.Fatalf("RedactURL(%q) = %q keeps %q", raw, out, secret)
			}
			if !InURL(raw) {
				t.Fatalf("InURL(%q) = false", raw)
			}
		}
	})
}
