// Attached files: uploads waiting to be sent with a message (picked,
// dropped or pasted; each uploads at once, with its progress), and the
// files of a message — images and videos shown in place, anything else as
// a card with a download button. Files are read with the access token and
// shown from blob: URLs; SVG and HTML are never shown, only downloaded.
import { useCallback, useEffect, useRef, useState } from "react";
import { ActionIcon, Box, Button, CloseButton, Group, Paper, Progress, Stack, Text } from "@mantine/core";
import { IconDownload, IconFile } from "@tabler/icons-react";
import { fetchFile, saveBlob, uploadFile, type FileChoice, type FileRef, type FileView } from "../api";
import { describe } from "../errors";

export const MAX_FILES = 8;
export const MAX_FILE_BYTES = 25 << 20;

/** The types the page shows in place (the node serves them as such). */
const IMAGE = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
const VIDEO = new Set(["video/mp4", "video/webm"]);

export function formatSize(n: number) {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1 << 20)).toFixed(1)} MB`;
}

export interface Upload {
  key: string;
  name: string;
  size: number;
  progress: number;
  ref?: FileRef;
  error?: string;
}

/** Uploads waiting for the next message. */
export function useUploads() {
  const [uploads, setUploads] = useState<Upload[]>([]);
  const count = useRef(0);
  const patch = (key: string, p: Partial<Upload>) => setUploads((u) => u.map((x) => (x.key === key ? { ...x, ...p } : x)));
  const add = useCallback((files: Iterable<File>) => {
    for (const file of files) {
      const key = "u" + ++count.current;
      setUploads((u) => {
        if (u.length >= MAX_FILES) return u;
        return [...u, { key, name: file.name || "pasted", size: file.size, progress: 0,
          error: file.size > MAX_FILE_BYTES ? "Too large: a file is at most 25 MB." : undefined }];
      });
      if (file.size > MAX_FILE_BYTES) continue;
      uploadFile(file, (p) => patch(key, { progress: p }))
        .then((ref) => patch(key, { ref, progress: 1 }))
        .catch((e) => patch(key, { error: describe(e) }));
    }
  }, []);
  const remove = (key: string) => setUploads((u) => u.filter((x) => x.key !== key));
  const clear = () => setUploads([]);
  const busy = uploads.some((u) => !u.ref && !u.error);
  const failed = uploads.some((u) => !!u.error);
  const choices: FileChoice[] = uploads.filter((u) => u.ref).map((u) => ({ hash: u.ref!.hash, name: u.name }));
  return { uploads, add, remove, clear, busy, failed, choices };
}

export function PendingUploads({ uploads, remove }: { uploads: Upload[]; remove: (key: string) => void }) {
  if (uploads.length === 0) return null;
  return (
    <Group px="md" pt="xs" gap="xs" data-testid="uploads">
      {uploads.map((u) => (
        <Paper key={u.key} withBorder p={6} w={200} data-testid="upload" data-done={u.ref ? "" : undefined} data-failed={u.error ? "" : undefined}>
          <Group gap={4} wrap="nowrap">
            <IconFile size={16} />
            <Text size="xs" truncate style={{ flex: 1 }}>{u.name}</Text>
            <CloseButton size="xs" aria-label={`Remove ${u.name}`} onClick={() => remove(u.key)} />
          </Group>
          {u.error ? <Text size="xs" c="red">{u.error}</Text> : (
            <Progress value={u.progress * 100} size="sm" mt={4} aria-label={`Uploading ${u.name}`} data-testid="upload-progress"
              color={u.ref ? "green" : "blue"} />
          )}
        </Paper>
      ))}
    </Group>
  );
}

/** A message's files. */
export function MessageFiles({ partyId, files }: { partyId: string; files: FileView[] }) {
  return (
    <Stack gap={6} mt={4}>
      {files.map((f) =>
        IMAGE.has(f.type) || VIDEO.has(f.type)
          ? <MediaFile key={f.hash} partyId={partyId} f={f} />
          : <FileCard key={f.hash} partyId={partyId} f={f} />)}
    </Stack>
  );
}

/** An image or video, loaded with the access token and shown from a
 * blob: URL; a click saves it. */
function MediaFile({ partyId, f }: { partyId: string; f: FileView }) {
  const [url, setUrl] = useState<string | null>(null);
  const [progress, setProgress] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const blob = useRef<Blob | null>(null);
  useEffect(() => {
    let live = true;
    let made = "";
    fetchFile(partyId, f, (p) => live && setProgress(p))
      .then((b) => {
        if (!live) return;
        blob.current = b;
        made = URL.createObjectURL(b);
        setUrl(made);
      })
      .catch((e) => live && setError(describe(e)));
    return () => {
      live = false;
      if (made) URL.revokeObjectURL(made);
    };
  }, [partyId, f.hash]); // eslint-disable-line react-hooks/exhaustive-deps
  if (error) return <FileCard partyId={partyId} f={f} note={error} />;
  if (!url) {
    return (
      <Box w={240} data-testid="file-loading">
        {f.thumb
          ? <img src={"data:image/jpeg;base64," + f.thumb} alt={f.name} className="attachment-thumb" data-testid="file-thumb" />
          : <Text size="xs" c="dimmed" truncate>{f.name}</Text>}
        <Progress value={progress * 100} size="sm" aria-label={`Loading ${f.name}`} />
      </Box>
    );
  }
  return VIDEO.has(f.type)
    ? <video src={url} controls className="attachment-media" data-testid="file-video" aria-label={f.name} />
    : (
      <img src={url} alt={f.name} title={`${f.name} (${formatSize(f.size)}): click to save`} className="attachment-media"
        data-testid="file-image" onClick={() => blob.current && saveBlob(blob.current, f.name)} />
    );
}

/** Any other file: its name, size and type, and a download button with
 * the transfer's progress. */
function FileCard({ partyId, f, note }: { partyId: string; f: FileView; note?: string }) {
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(note ?? null);
  const download = async () => {
    setError(null);
    setProgress(0);
    try {
      saveBlob(await fetchFile(partyId, f, setProgress), f.name);
    } catch (e) {
      setError(describe(e));
    } finally {
      setProgress(null);
    }
  };
  return (
    <Paper withBorder p="xs" maw={360} data-testid="file-card">
      <Group gap="xs" wrap="nowrap">
        <IconFile size={22} />
        <Box style={{ flex: 1, minWidth: 0 }}>
          <Text size="sm" fw={600} truncate>{f.name}</Text>
          <Text size="xs" c="dimmed">{formatSize(f.size)} · {f.type}</Text>
        </Box>
        {progress === null
          ? <ActionIcon variant="light" aria-label={`Download ${f.name}`} onClick={() => void download()}><IconDownload size={16} /></ActionIcon>
          : <Button size="compact-xs" variant="subtle" loading>…</Button>}
      </Group>
      {progress !== null && <Progress value={progress * 100} size="sm" mt={4} aria-label={`Downloading ${f.name}`} />}
      {error && <Text size="xs" c="red" mt={4}>{error}</Text>}
    </Paper>
  );
}
