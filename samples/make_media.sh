#!/usr/bin/env bash
# Regenerates samples/media/: the sample HLS VOD library (needs ffmpeg and the DejaVu font).
# Every asset has a three-rung ladder (360p, 270p, 180p), 2 s segments with an IDR every 2 s,
# a distinct colour and tone, and burnt-in title, running time and segment number, so that a
# person watching the channel sees each program boundary. The output is committed; the demo
# and tests do not need ffmpeg.
# No B-frames (-bf 0): each segment's first frame then has PTS = DTS, so programs stitched
# at a discontinuity leave no buffer hole. Real libraries encoded with B-frames leave a hole
# of about two frames at each boundary, which hls.js skips with a non-fatal bufferStalledError
# (on fMP4; it remuxes TS and hides it).
set -euo pipefail
cd "$(dirname "$0")"
out=media
font=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
rm -rf "$out"
mkdir -p "$out"

# make NAME TITLE COLOUR TONE_HZ SECONDS SEGMENT_TYPE(mpegts|fmp4)
make() {
  local name=$1 title=$2 colour=$3 tone=$4 seconds=$5 segtype=$6 ext=ts
  [ "$segtype" = fmp4 ] && ext=m4s
  mkdir -p "$out/$name"
  local text="drawtext=fontfile=$font:fontcolor=white:fontsize=64:x=(w-tw)/2:y=90:text='$title'"
  text+=",drawtext=fontfile=$font:fontcolor=yellow:fontsize=48:x=(w-tw)/2:y=200:text='%{pts\\:hms}'"
  text+=",drawtext=fontfile=$font:fontcolor=white:fontsize=32:x=(w-tw)/2:y=280"
  text+=":text='segment %{eif\\:floor(t/2)+1\\:d} of $((seconds / 2))'"
  text+=",drawtext=fontfile=$font:fontcolor=white:fontsize=40:y=h-50:x='mod(t*160,w-40)':text='>>'"
  (
    cd "$out/$name"
    ffmpeg -hide_banner -loglevel error -y \
      -f lavfi -i "color=c=$colour:size=640x360:rate=25" \
      -f lavfi -i "sine=frequency=$tone:sample_rate=48000" -t "$seconds" \
      -filter_complex "[0:v]$text,split=3[a][b][c];[b]scale=480:270[b2];[c]scale=320:180[c2]" \
      -map "[a]" -map "[b2]" -map "[c2]" -map 1:a -map 1:a -map 1:a \
      -c:v libx264 -preset veryfast -profile:v main -pix_fmt yuv420p -threads 1 -bf 0 \
      -g 50 -keyint_min 50 -sc_threshold 0 -crf 32 \
      -maxrate:v:0 300k -bufsize:v:0 600k -maxrate:v:1 180k -bufsize:v:1 360k \
      -maxrate:v:2 90k -bufsize:v:2 180k \
      -c:a aac -b:a 32k -ac 1 \
      -f hls -hls_time 2 -hls_playlist_type vod -hls_flags independent_segments \
      -hls_segment_type "$segtype" \
      -hls_segment_filename "%v/seg_%03d.$ext" -master_pl_name master.m3u8 \
      -var_stream_map "v:0,a:0,name:360p v:1,a:1,name:270p v:2,a:2,name:180p" "%v/index.m3u8"
  )
}

make ts-alpha   'Program A (TS)'   'navy'        440 20 mpegts
make ts-bravo   'Program B (TS)'   'darkgreen'   550 30 mpegts
make ts-charlie 'Program C (TS)'   'darkred'     660 44 mpegts
make cmaf-delta 'Program D (fMP4)' 'indigo'      770 24 fmp4
make slate-ts   'Be right back' 'dimgray' 330 6 mpegts
make slate-cmaf 'Be right back' 'dimgray' 330 6 fmp4
du -sh "$out"
