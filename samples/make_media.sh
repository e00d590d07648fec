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
mkdir -p "$out"
# With asset names as arguments only those are made again (e.g. make_media.sh slate-multi).
wanted=("$@")
want() {
  [ ${#wanted[@]} -eq 0 ] && return 0
  local name
  for name in "${wanted[@]}"; do [ "$name" = "$1" ] && return 0; done
  return 1
}

# fresh NAME: false when NAME is not wanted; else an empty folder for it
fresh() {
  want "$1" || return 1
  rm -rf "${out:?}/$1"
  mkdir -p "$out/$1"
}

# overlay TITLE SECONDS: the burnt-in title, running time, segment number and a moving mark
overlay() {
  local text="drawtext=fontfile=$font:fontcolor=white:fontsize=64:x=(w-tw)/2:y=90:text='$1'"
  text+=",drawtext=fontfile=$font:fontcolor=yellow:fontsize=48:x=(w-tw)/2:y=200:text='%{pts\\:hms}'"
  text+=",drawtext=fontfile=$font:fontcolor=white:fontsize=32:x=(w-tw)/2:y=280"
  text+=":text='segment %{eif\\:floor(t/2)+1\\:d} of $(($2 / 2))'"
  text+=",drawtext=fontfile=$font:fontcolor=white:fontsize=40:y=h-50:x='mod(t*160,w-40)':text='>>'"
  printf '%s' "$text"
}

# make NAME TITLE COLOUR TONE_HZ SECONDS SEGMENT_TYPE(mpegts|fmp4)
make() {
  local name=$1 title=$2 colour=$3 tone=$4 seconds=$5 segtype=$6 ext=ts
  [ "$segtype" = fmp4 ] && ext=m4s
  fresh "$name" || return 0
  local text
  text=$(overlay "$title" "$seconds")
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

# Demuxed assets (fMP4, as CMAF libraries are; hls.js also takes demuxed TS, but warns
# about the first audio segment of ffmpeg's): video-only variants (360p, 180p), two audio
# languages in separate
# renditions (EXT-X-MEDIA TYPE=AUDIO: English at the program's tone, French an octave up),
# and, with SUBTITLES=yes, English and French WebVTT subtitles in 6 s segments (three video
# segments each) whose cues name the program, the language and the second they appear in.
# make_demuxed NAME TITLE COLOUR TONE_HZ SECONDS SUBTITLES(yes|no)
make_demuxed() {
  local name=$1 title=$2 colour=$3 tone=$4 seconds=$5 subtitles=$6
  fresh "$name" || return 0
  local text
  text=$(overlay "$title" "$seconds")
  # 25 ms less audio than video: the AAC encoder's last frame then ends with the video instead
  # of spilling 21 ms into a segment of its own
  local audio
  audio=$(awk "BEGIN { print $seconds - 0.025 }")
  (
    cd "$out/$name"
    ffmpeg -hide_banner -loglevel error -y \
      -f lavfi -i "color=c=$colour:size=640x360:rate=25" \
      -f lavfi -i "sine=frequency=$tone:sample_rate=48000:duration=$audio" \
      -f lavfi -i "sine=frequency=$((tone * 2)):sample_rate=48000:duration=$audio" \
      -t "$seconds" -filter_complex "[0:v]$text,split=2[a][b];[b]scale=320:180[b2]" \
      -map "[a]" -map "[b2]" -map 1:a -map 2:a \
      -c:v libx264 -preset veryfast -profile:v main -pix_fmt yuv420p -threads 1 -bf 0 \
      -g 50 -keyint_min 50 -sc_threshold 0 -crf 32 \
      -maxrate:v:0 300k -bufsize:v:0 600k -maxrate:v:1 90k -bufsize:v:1 180k \
      -c:a aac -b:a 32k -ac 1 \
      -f hls -hls_time 2 -hls_playlist_type vod -hls_flags independent_segments \
      -hls_segment_type fmp4 -hls_segment_filename "%v/seg_%03d.m4s" \
      -master_pl_name master.m3u8 \
      -var_stream_map "v:0,agroup:aud,name:360p v:1,agroup:aud,name:180p \
a:0,agroup:aud,language:en,name:audio-en,default:yes a:1,agroup:aud,language:fr,name:audio-fr" \
      "%v/index.m3u8"
    # ffmpeg names the audio renditions audio_N (EXT-X-MEDIA NAME)
    sed -i -e 's/NAME="audio_[0-9]*"\(.*LANGUAGE="en"\)/NAME="English"\1/' \
      -e 's/NAME="audio_[0-9]*"\(.*LANGUAGE="fr"\)/NAME="Francais"\1/' master.m3u8
    if [ "$subtitles" = yes ]; then
      # cue times are relative to the first video frame; X-TIMESTAMP-MAP ties them to its PTS
      local pts
      pts=$(cat 360p/init_0.mp4 360p/seg_000.m4s | ffprobe -v error -select_streams v:0 \
        -show_entries packet=pts_time -of default=nw=1:nk=1 -read_intervals '%+#1' - | head -1)
      pts=$(awk "BEGIN { printf \"%d\", $pts * 90000 + 0.5 }")  # seconds in the 90 kHz clock
      for lang in en fr; do
        mkdir -p "subs-$lang"
        {
          printf '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n'
          printf '#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n'
        } > "subs-$lang/index.m3u8"
        local start=0 number=0
        while [ "$start" -lt "$seconds" ]; do
          local end=$((start + 6 < seconds ? start + 6 : seconds))
          local file
          file=$(printf 'subs-%s/cues_%03d.vtt' "$lang" "$number")
          {
            printf 'WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:%s,LOCAL:00:00:00.000\n\n' "$pts"
            local second=$start
            while [ "$second" -lt "$end" ]; do
              printf '00:00:%02d.100 --> 00:00:%02d.900\n%s [%s] %d s\n\n' \
                "$second" "$second" "$title" "$lang" "$second"
              second=$((second + 1))
            done
          } > "$file"
          printf '#EXTINF:%d.000000,\ncues_%03d.vtt\n' $((end - start)) "$number" \
            >> "subs-$lang/index.m3u8"
          start=$end
          number=$((number + 1))
        done
        printf '#EXT-X-ENDLIST\n' >> "subs-$lang/index.m3u8"
      done
      # the subtitle group, and every variant referring to it
      sed -i -e 's/^\(#EXT-X-STREAM-INF:.*\)$/\1,SUBTITLES="subs"/' master.m3u8
      sed -i -e '/^#EXT-X-VERSION/a\
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="en",NAME="English",DEFAULT=NO,AUTOSELECT=YES,URI="subs-en/index.m3u8"\
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="fr",NAME="Francais",DEFAULT=NO,AUTOSELECT=YES,URI="subs-fr/index.m3u8"' master.m3u8
    fi
  )
}

make_demuxed multi-echo    'Program E (2 languages)' 'teal'    440 24 yes
make_demuxed multi-foxtrot 'Program F (2 languages)' 'sienna'  550 18 yes
make_demuxed slate-multi   'Be right back'           'dimgray' 330 6 no
du -sh "$out"
