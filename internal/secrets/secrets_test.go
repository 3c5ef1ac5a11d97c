package secrets

import (
	"strings"
	"testing"
)

func TestLooksLikeCredential(t *testing.T) {
	for _, c := range []struct {
		name, value string
		want        bool
	}{
		{"DB_PASSWORD", "s3cr3t-Passw0rd", true},
		{"UPSTREAM", "https://admin:hunter22@db.example.com/x", true},
		{"AWS_ID", "AKIAABCDEFGHIJKLMNOP", true},
		{"GREETING", "hello world", false},
		{"LOG_LEVEL", "debug", false},
		{"API_TOKEN", "short", false},
		{"URL", "https://db.example.com/x", false},
	} {
		if got := LooksLikeCredential(c.name, c.value); got != c.want {
			t.Errorf("LooksLikeCredential(%s, %s) = %v", c.name, c.value, got)
		}
	}
}

func TestRedact(t *testing.T) {
	in := strings.Join([]string{
		"connecting to postgres://app:hunter22@db:5432/app",
		"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig",
		"password=topsecret123 retry=3",
		`{"api_key": "abcd1234efgh"}`,
		"aws AKIAABCDEFGHIJKLMNOP used",
		"-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
		"plain line with no secret",
	}, "\n")
	out := Redact(in)
	for _, leaked := range []string{"hunter22", "eyJhbGciOiJIUzI1NiJ9", "topsecret123", "abcd1234efgh", "AKIAABCDEFGHIJKLMNOP", "MIIEow"} {
		if strings.Contains(out, leaked) {
			t.Errorf("%q survived redaction:\n%s", leaked, out)
		}
	}
	for _, kept := range []string{"postgres://app:[REDACTED]@db:5432/app", "Bearer [REDACTED]", "retry=3", "plain line with no secret"} {
		if !strings.Contains(out, kept) {
			t.Errorf("redaction lost %q:\n%s", kept, out)
		}
	}
}

func TestInText(t *testing.T) {
	for _, c := range []struct {
		text string
		want bool
	}{
		{"--db-password=hunter2hunter2", true},
		{`{"api_key": "abcd1234efgh"}`, true},
		{"spring.datasource.password=correcthorse", true},
		{"token: 9f8e7d6c5b4a", true},
		{"postgres://app:hunter22@db:5432/app", true},
		{"AKIAABCDEFGHIJKLMNOP", true},
		// git's extraheader in a CI checkout's .git/config, and a service-account token.
		{"\textraheader = AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46Z2hzX3h4eA==", true},
		{"Authorization: Bearer abcdefgh12345678", true},
		{"eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJl", true},
		{"Authorization: see the docs", false},
		{"--token-file=/var/run/secrets/token", false},
		{"secretName: billing-db", false},
		{"password=${DB_PASSWORD}", false},
		{"--password=$(DB_PASSWORD)", false},
		{"password_min_length=12345678", false},
		{"token=short", false},
		{"https://db.example.com/x", false},
		{"hello world", false},
		{"", false},
	} {
		if got := InText(c.text); got != c.want {
			t.Errorf("InText(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://user:pass@prometheus:9090/x": "http://%2A%2A%2A@prometheus:9090/x",
		"https://h/x?access_token=ghp_x&a=1": "https://h/x?a=%2A%2A%2A&access_token=%2A%2A%2A",
		"http://prometheus:9090":             "http://prometheus:9090",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
	if got := RedactURLsIn(`Get "http://admin:***@prom:9090/api": dial tcp: refused; http://bob@h/`); strings.Contains(got, "admin") || strings.Contains(got, "bob") {
		t.Errorf("RedactURLsIn: %s", got)
	}
}

func TestInURL(t *testing.T) {
	for u, want := range map[string]bool{
		"https://hooks.slack.com/services/T000/B000/XXXX":                                true,
		"https://api.github.com/x?access_token=ghp_0123456789abcdefghijklmnopqrstuvwxyz": true,
		"https://storage.example.com/f?sig=abc&se=2026":                                  true,
		"https://u:p@example.com/":                                                       true,
		"https://grafana.example.com/d/x?orgId=1&var-namespace=shop":                     false,
		"https://github.com/org/repo/blob/main/README.md":                                false,
	} {
		if got := InURL(u); got != want {
			t.Errorf("InURL(%q) = %v, want %v", u, got, want)
		}
	}
}
