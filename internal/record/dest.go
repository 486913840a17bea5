package record

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Destination is where recordings are written: an S3 API or a directory per bucket.
type Destination interface {
	// Put writes (or overwrites) one object.
	Put(ctx context.Context, bucket, key, contentType string, body []byte) error
	// CheckBucket tells whether the bucket exists and recordings can be written to it.
	CheckBucket(ctx context.Context, bucket string) error
}

// S3Config configures the S3 destination.
type S3Config struct {
	Endpoint                     string // "https://s3.us-east-1.amazonaws.com", or any S3-compatible server
	Region                       string // default: from the AWS environment, else us-east-1
	AccessKeyID, SecretAccessKey string // default: the SDK's credential chain
	PathStyle                    bool   // bucket in the path rather than the host name (most S3-compatible servers)
}

// S3 writes recordings with the S3 API (the AWS SDK for Go v2). Objects are written with PutObject: a recorded
// segment is at most a few MB, so no multipart upload is ever started (and none can be left dangling).
type S3 struct{ client *s3.Client }

// NewS3 makes the client; ctx bounds loading the AWS configuration. No request is made.
func NewS3(ctx context.Context, c S3Config) (*S3, error) {
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return nil, errors.New("record: S3: set both the access key id and the secret access key, or neither")
	}
	opts := []func(*awsconfig.LoadOptions) error{}
	if c.Region != "" {
		opts = append(opts, awsconfig.WithRegion(c.Region))
	}
	if c.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("record: S3: load the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.UsePathStyle = c.PathStyle
		// The recorder retries with its own backoff, keeping the media it could not write yet.
		o.Retryer = aws.NopRetryer{}
		// Checksums only when the operation needs them: S3-compatible servers differ in what they accept.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &S3{client: client}, nil
}

// Put writes an object with PutObject.
func (d *S3) Put(ctx context.Context, bucket, key, contentType string, body []byte) error {
	_, err := d.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String(contentType)})
	if err != nil {
		return fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// CheckBucket asks for the bucket with HeadBucket: it must exist and the credentials must reach it. Nothing is
// written to it.
func (d *S3) CheckBucket(ctx context.Context, bucket string) error {
	if _, err := d.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("s3://%s: %w", bucket, err)
	}
	return nil
}

// Dir writes recordings to the local file system, one directory per bucket under Root: the object
// "ivs/v1/…/0.ts" of bucket "b" is the file Root/b/ivs/v1/…/0.ts. A bucket exists when its directory does.
type Dir struct{ Root string }

// bucketName is what a bucket name may be (the API's pattern), which also keeps paths inside Root.
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

func (d Dir) path(bucket, key string) (string, error) {
	if !bucketName.MatchString(bucket) || strings.Contains(bucket, "..") {
		return "", fmt.Errorf("bucket name %q is not valid", bucket)
	}
	clean := filepath.Clean("/" + key)
	if key == "" || clean != "/"+key {
		return "", fmt.Errorf("object key %q is not a clean path", key)
	}
	return filepath.Join(d.Root, bucket, filepath.FromSlash(key)), nil
}

// Put writes the file through a temporary name and a rename, so readers never see a partial object.
func (d Dir) Put(_ context.Context, bucket, key, _ string, body []byte) error {
	p, err := d.path(bucket, key)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(d.Root, bucket)); err != nil {
		return fmt.Errorf("bucket directory: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return err
	}
	_, err = f.Write(body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// CheckBucket requires the bucket's directory to exist and to accept a file (created and removed at once).
func (d Dir) CheckBucket(_ context.Context, bucket string) error {
	p, err := d.path(bucket, "x")
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if st, err := os.Stat(dir); err != nil {
		return fmt.Errorf("bucket directory %s does not exist (create it to record to bucket %q): %w", dir, bucket, err)
	} else if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".check-*")
	if err != nil {
		return fmt.Errorf("bucket directory %s cannot be written: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}
